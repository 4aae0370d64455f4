//! The `hearth` binary: everything lives in the library; see `hearth::cli`.
//! It never does work of its own: parsing, logging, config and exit codes are all `cli::main`'s.

fn main() -> std::process::ExitCode {
    hearth::cli::main()
}
