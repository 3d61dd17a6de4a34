//! Compresses the CDNOW sample (`data/CDNOW_master.txt`, the one copy in the repository) into
//! `OUT_DIR`, where `src/commands/demo.rs` embeds it: `patron demo` then works from any copy of
//! the binary, without the source tree.

use std::io::Write;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let source = Path::new(&manifest).join("../../data/CDNOW_master.txt");
    println!("cargo:rerun-if-changed={}", source.display());
    let data = std::fs::read(&source)
        .unwrap_or_else(|e| panic!("reading the demo data {}: {e}", source.display()));
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("CDNOW_master.txt.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&data).expect("compressing in memory");
    let compressed = gz.finish().expect("compressing in memory");
    std::fs::write(&out, compressed).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
