//! `patron import` and `patron export`.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use patron_exchange::{Entity, ExportFormat, ImportOptions, ImportReport, InputFormat};
use patron_store::{CustomerFilter, OrderFilter, Store};

use crate::cli::{ExportArgs, ExportEntity, ImportArgs, ImportEntity, ImportFormat};

/// Files larger than this get a progress bar (a few thousand rows).
const PROGRESS_MIN_BYTES: u64 = 256 * 1024;

pub async fn import(store: &Store, args: &ImportArgs) -> anyhow::Result<()> {
    let entity = match args.entity {
        ImportEntity::Customers => Entity::Customers,
        ImportEntity::Orders => Entity::Orders,
        ImportEntity::Interactions => Entity::Interactions,
        ImportEntity::Leads => return super::lead::import(store, args).await,
    };
    let format = match args.format {
        ImportFormat::Csv => InputFormat::Csv,
        ImportFormat::Cdnow => InputFormat::Cdnow,
    };
    let mut opts = ImportOptions::new(entity, format);
    opts.maps = args.maps.clone();
    opts.skip_bad = args.skip_bad.clone();
    opts.batch_rows = args.batch_size.max(1);
    opts.keep_indexes = args.keep_indexes;
    opts.create_customers |= args.create_customers;
    let started = Instant::now();
    let report = import_with_progress(store, &args.file, &opts).await?;
    print_report(&report, started.elapsed().as_secs_f64());
    if let (Some(p), true) = (&args.skip_bad, report.rejected > 0) {
        eprintln!("{} bad rows written to {}", report.rejected, p.display());
    }
    Ok(())
}

/// Runs an import with a progress bar on large files.
pub async fn import_with_progress(
    store: &Store,
    file: &std::path::Path,
    opts: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = if size >= PROGRESS_MIN_BYTES {
        let b = ProgressBar::new(size);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let result = patron_exchange::import_file(store, file, opts, |p| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} rows", p.rows));
    })
    .await;
    bar.finish_and_clear();
    Ok(result?)
}

pub fn print_report(r: &ImportReport, secs: f64) {
    println!(
        "read {} rows in {:.2} s ({:.0} rows/s): {} stored, {} already present, {} rejected, {} customers created",
        r.rows,
        secs,
        r.rows as f64 / secs.max(1e-9),
        r.inserted,
        r.already_present,
        r.rejected,
        r.customers_created
    );
}

pub async fn export(store: &Store, args: &ExportArgs) -> anyhow::Result<()> {
    let format = match args.format {
        crate::cli::ExportFormat::Csv => ExportFormat::Csv,
        crate::cli::ExportFormat::Json => ExportFormat::Json,
    };
    // Customers: under the export rule (`patron_app::exports`) of the user `--as` names (the
    // operator alone is not limited), decided before any file is written.
    let session = crate::commands::exports::acting_session(store).await?;
    let filter = CustomerFilter {
        exclude_opted_out: args.exclude_opted_out,
        ..Default::default()
    };
    let what = match args.entity {
        ExportEntity::Customers if args.exclude_opted_out => "customers (opted-out left out)",
        ExportEntity::Customers => "customers",
        ExportEntity::Orders => "orders",
    };
    if args.entity == ExportEntity::Customers {
        use patron_app::exports::Gate;
        let sort = patron_store::CustomerSort::Id;
        let (rows, gate) =
            patron_app::exports::check(store, &session, &filter, sort, &format!("{what} (cli)"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        match (gate, args.reason.as_deref()) {
            (Gate::Allowed, _) => {}
            (Gate::NeedsApproval(why), Some(reason)) => {
                let r = patron_app::exports::request(
                    store,
                    &session,
                    &filter,
                    sort,
                    if args.exclude_opted_out {
                        "exclude_opted_out=true"
                    } else {
                        ""
                    },
                    reason,
                    " (cli)",
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                eprintln!(
                    "{why}\nexport request {} for {rows} rows sent for approval; once approved, fetch it once with `patron exports download {} -o FILE --as {}`",
                    r.id, r.id, session.user.username
                );
                return Ok(());
            }
            (Gate::NeedsApproval(why), None) => {
                anyhow::bail!("{why}: nothing was exported; ask a manager with --reason \"...\"")
            }
            (Gate::Refused(why), _) => anyhow::bail!("{why}"),
        }
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = match args.entity {
        ExportEntity::Customers => {
            patron_exchange::export_visible_customers(
                store,
                &filter,
                &session.visible,
                patron_store::CustomerSort::Id,
                format,
                &mut out,
            )
            .await?
        }
        ExportEntity::Orders => {
            patron_exchange::export_orders(store, &OrderFilter::default(), format, &mut out).await?
        }
    };
    drop(out);
    if args.entity == ExportEntity::Customers {
        // Customer rows count towards the user's daily limit.
        patron_app::exports::record_export(store, &session, what, n as i64)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        store
            .audit(
                &crate::commands::custody::cli_actor(),
                "export",
                None,
                Some(what),
                Some(n as i64),
            )
            .await?;
    }
    eprintln!("exported {n} rows");
    Ok(())
}
