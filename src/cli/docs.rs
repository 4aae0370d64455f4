//! The manual page and shell completions the Debian package ships,
//! generated from the command line itself (`clap_mangen`, `clap_complete`,
//! both only for this, so the hub's binary carries neither):
//!
//! ```sh
//! HEARTH_WRITE_DOCS=DIR cargo test --locked --lib cli::docs
//! ```
//!
//! writes `DIR/man/`: `hearth.1` and a page for each subcommand
//! (`hearth-device-add.1`, as `man hearth-device-add` finds it), and
//! `DIR/completions/{hearth.bash,_hearth,hearth.fish}`.

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::super::Cli;

    fn man_page() -> String {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .expect("a man page renders");
        String::from_utf8(out).expect("roff is text")
    }

    #[test]
    fn the_man_page_and_completions_cover_every_command() {
        let page = man_page();
        // roff writes a hyphen as `\-`.
        let plain = page.replace("\\-", "-");
        let mut command = Cli::command();
        for sub in command.get_subcommands() {
            assert!(
                plain.contains(sub.get_name()),
                "the man page names `hearth {}`",
                sub.get_name()
            );
        }
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut command,
            "hearth",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        assert!(
            bash.contains("template") && bash.contains("--console"),
            "bash completes them"
        );

        // Every page says in its NAME line what the command does (lintian:
        // bad-whatis-entry otherwise).
        fn undescribed(command: &clap::Command, path: &str, out: &mut Vec<String>) {
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    out.push(path.clone());
                }
                undescribed(sub, &path, out);
            }
        }
        let mut missing = Vec::new();
        undescribed(&Cli::command(), "hearth", &mut missing);
        assert!(missing.is_empty(), "no description: {missing:?}");
        // A page of its own for each subcommand, with its arguments.
        let pages = tempfile::tempdir().unwrap();
        clap_mangen::generate_to(Cli::command(), pages.path()).unwrap();
        let add = std::fs::read_to_string(pages.path().join("hearth-device-add.1"))
            .expect("a page for `hearth device add`")
            .replace("\\-", "-");
        assert!(add.contains("--template"), "{add}");
        assert!(
            pages.path().join("hearth-role-edit.1").is_file()
                && pages.path().join("hearth.1").is_file()
        );

        let Some(dir) = std::env::var_os("HEARTH_WRITE_DOCS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(dir.join("completions")).unwrap();
        std::fs::create_dir_all(dir.join("man")).unwrap();
        clap_mangen::generate_to(Cli::command(), dir.join("man")).unwrap();
        for (shell, file) in [
            (clap_complete::Shell::Bash, "hearth.bash"),
            (clap_complete::Shell::Zsh, "_hearth"),
            (clap_complete::Shell::Fish, "hearth.fish"),
        ] {
            let mut out = std::fs::File::create(dir.join("completions").join(file)).unwrap();
            clap_complete::generate(shell, &mut command, "hearth", &mut out);
        }
    }
}
