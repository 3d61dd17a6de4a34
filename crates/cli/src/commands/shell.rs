//! `patron completions SHELL` and `patron man`: generated from the clap command table, printed
//! to standard output (as ripgrep does), so packagers and users install them where they like.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "patron", &mut out);
    write_out(&out)
}

/// Writes the man page (roff): the top-level page, listing every subcommand.
pub fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("rendering the man page")?;
    write_out(&out)
}

/// Raw bytes to standard output (the shell's escapes must not be escaped as the `println!` of
/// this binary does for stored text).
fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}
