//! What each subcommand does.

mod bench;
pub mod campaign;
pub mod credit;
pub mod custody;
mod demo;
mod demo_profiles;
pub mod followup;
pub mod lead;
pub mod opportunity;
mod records;
pub mod service;
pub mod task;
mod transfer;
pub mod value;

use anyhow::Context;
use patron_store::Store;

use crate::cli::{BenchKind, Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo {
            addr,
            demo_database,
            orders,
            no_serve,
        } => demo::run(&demo_database, &orders, addr, no_serve).await,
        Command::Serve { addr } => {
            let store = open(&cli.database).await?;
            crate::serve::serve(store, addr).await.context("serving")
        }
        Command::Import(args) => transfer::import(&open(&cli.database).await?, &args).await,
        Command::Export(args) => transfer::export(&open(&cli.database).await?, &args).await,
        Command::Duplicates { customer } => {
            records::duplicates(&open(&cli.database).await?, customer).await
        }
        Command::Merge { keep, drop } => {
            records::merge(&open(&cli.database).await?, keep, drop).await
        }
        Command::Value(args) => value::run(&cli.database, args).await,
        Command::Credit(args) => credit::credit(&open(&cli.database).await?, args).await,
        Command::Invoice(args) => credit::invoice(&open(&cli.database).await?, args).await,
        Command::Ticket(args) => service::ticket(&open(&cli.database).await?, args).await,
        Command::Survey(args) => service::survey(&open(&cli.database).await?, args).await,
        Command::Followup(args) => followup::run(&open(&cli.database).await?, args).await,
        Command::Opportunity(args) => opportunity::run(&open(&cli.database).await?, args).await,
        Command::Campaign(args) => campaign::run(&open(&cli.database).await?, args).await,
        Command::Lead(args) => lead::run(&open(&cli.database).await?, args).await,
        Command::Task(args) => task::run(&open(&cli.database).await?, args).await,
        Command::Review { from, to } => {
            followup::review(&open(&cli.database).await?, from, to).await
        }
        Command::User(cmd) => custody::user(&open(&cli.database).await?, cmd).await,
        Command::Token(cmd) => custody::token(&open(&cli.database).await?, cmd).await,
        Command::Pool(cmd) => custody::pool(&open(&cli.database).await?, cmd).await,
        Command::Audit(args) => custody::audit(&open(&cli.database).await?, args).await,
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
