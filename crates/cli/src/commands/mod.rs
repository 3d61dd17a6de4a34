//! What each subcommand does.

pub mod access;
pub mod backup;
mod bench;
pub mod campaign;
pub mod config;
pub mod credit;
pub mod custody;
pub mod customer;
mod demo;
mod demo_profiles;
pub mod exports;
pub mod followup;
pub mod lead;
pub mod mail;
mod mail_jobs;
pub mod opportunity;
mod records;
pub mod service;
mod shell;
pub mod task;
mod transfer;
pub mod value;

use anyhow::Context;
use patron_store::Store;

use crate::cli::{BenchKind, Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    custody::set_operator(cli.operator.as_deref())?;
    match cli.command {
        Command::Demo {
            addr,
            demo_database,
            orders,
            no_serve,
        } => demo::run(&demo_database, orders.as_deref(), addr, no_serve).await,
        Command::Serve {
            addr,
            metrics_addr,
            rules_every,
            refresh_at,
            currency,
            mail,
            public_url,
        } => {
            if let Some(c) = currency {
                patron_web::set_currency(c);
            }
            let store = open(&cli.database).await?;
            // The outbox is sent beside the server (until the process ends).
            let mailer = mail.mailer()?;
            patron_web::set_mail_status(mailer.as_ref().map(|m| m.config().describe()));
            patron_app::mail::configure(patron_app::mail::Delivery {
                smtp: mailer.as_ref().map(|m| m.config().describe()),
                public_url: public_url
                    .filter(|u| !u.trim().is_empty())
                    .map(|u| patron_app::mail::check_public_url(&u))
                    .transpose()
                    .context("--public-url (PATRON_PUBLIC_URL)")?,
            });
            // The users' mail (notifications, daily digests) is queued every minute.
            tokio::spawn(crate::serve::queue_user_mail_periodically(
                store.clone(),
                std::time::Duration::from_secs(60),
            ));
            match mailer {
                Some(mailer) => {
                    tracing::info!(config = %mailer.config().describe(), "sending mail");
                    tokio::spawn(patron_mail::run_worker(
                        store.clone(),
                        mailer,
                        std::time::Duration::from_secs(5),
                    ));
                }
                None => tracing::info!("mail is not configured (--smtp-url): nothing is sent"),
            }
            if let Some(metrics_addr) = metrics_addr {
                crate::monitoring::serve_metrics(metrics_addr, store.clone()).await?;
            }
            let rules_every = std::time::Duration::from_secs(rules_every * 60);
            crate::serve::serve(store, addr, rules_every, refresh_at)
                .await
                .context("serving")
        }
        Command::Import(args) => transfer::import(&open(&cli.database).await?, &args).await,
        Command::Export(args) => transfer::export(&open(&cli.database).await?, &args).await,
        Command::Exports(args) => exports::run(&open(&cli.database).await?, args).await,
        Command::Duplicates { customer } => {
            records::duplicates(&open(&cli.database).await?, customer).await
        }
        Command::Merge { keep, drop } => {
            records::merge(&open(&cli.database).await?, keep, drop).await
        }
        Command::Customer(cmd) => customer::run(&open(&cli.database).await?, cmd).await,
        Command::Value(args) => value::run(&cli.database, args).await,
        Command::Credit(args) => credit::credit(&open(&cli.database).await?, args).await,
        Command::Invoice(args) => credit::invoice(&open(&cli.database).await?, args).await,
        Command::Ticket(args) => service::ticket(&open(&cli.database).await?, args).await,
        Command::Survey(args) => service::survey(&open(&cli.database).await?, args).await,
        Command::Followup(args) => followup::run(&open(&cli.database).await?, args).await,
        Command::Opportunity(args) => opportunity::run(&open(&cli.database).await?, args).await,
        Command::Campaign(args) => campaign::run(&open(&cli.database).await?, args).await,
        Command::Mail(args) => mail::run(&open(&cli.database).await?, args).await,
        Command::Lead(args) => lead::run(&open(&cli.database).await?, args).await,
        Command::Task(args) => task::run(&open(&cli.database).await?, args).await,
        Command::Review { from, to } => {
            followup::review(&open(&cli.database).await?, from, to).await
        }
        Command::User(cmd) => custody::user(&open(&cli.database).await?, cmd).await,
        Command::Token(cmd) => custody::token(&open(&cli.database).await?, cmd).await,
        Command::Pool(cmd) => custody::pool(&open(&cli.database).await?, cmd).await,
        Command::Audit(args) => custody::audit(&open(&cli.database).await?, args).await,
        Command::Backup(args) => backup::backup(&cli.database, args).await,
        Command::Restore(args) => backup::restore(&cli.database, args).await,
        Command::Check => backup::check(&cli.database).await,
        Command::Config(cmd) => config::run(cmd),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man => shell::man(),
        Command::Bench(b) => match b.kind {
            BenchKind::Import {
                customers,
                orders,
                file,
                seed,
            } => bench::import(&cli.database, customers, orders, &file, seed).await,
        },
    }
}

/// Opens (and on first use creates and migrates) the database.
pub async fn open(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url).await.with_context(|| {
        format!("opening database '{url}' (set it with --database or DATABASE_URL)")
    })?;
    custody::announce_admin(&store).await?;
    Ok(store)
}
