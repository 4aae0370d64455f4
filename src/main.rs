//! The `hearth` binary: everything lives in the library; see `hearth::cli`.

fn main() -> std::process::ExitCode {
    hearth::cli::main()
}
