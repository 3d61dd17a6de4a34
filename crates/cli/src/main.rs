//! `patron`: one binary for import, export, analysis and the web interface.

/// Every line the CLI prints goes through [`terminal::safe`]: stored text (a ticket subject, a
/// lead's name) holding ESC or other control characters is shown escaped, never sent to the
/// terminal raw. These shadow the standard macros in the whole binary.
macro_rules! println {
    () => { std::println!() };
    ($($arg:tt)*) => { std::println!("{}", $crate::terminal::safe(&format!($($arg)*))) };
}
macro_rules! eprintln {
    () => { std::eprintln!() };
    ($($arg:tt)*) => { std::eprintln!("{}", $crate::terminal::safe(&format!($($arg)*))) };
}

mod cli;
mod commands;
mod serve;
mod terminal;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PATRON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
