//! Reading the password for `hearth login`: `HEARTH_PASSWORD`, else one
//! line of standard input with the terminal's echo off. It never prints
//! the password, and restores the terminal's echo when done, also on error.

use std::io::BufRead;

/// `HEARTH_PASSWORD`, else one line of standard input (not echoed when it
/// is a terminal).
pub(super) fn read_password() -> Result<String, String> {
    if let Ok(p) = std::env::var("HEARTH_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    let read = {
        let _quiet = EchoOff::on_stdin();
        std::io::stdin().lock().read_line(&mut line)
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err("no password given".into());
    }
    Ok(line)
}

/// Turns the terminal's echo off while alive (nothing when standard input
/// is not a terminal); restores it when dropped, also on error.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn on_stdin() -> Self {
        // SAFETY: termios is plain data; tcgetattr/tcsetattr get fd 0 and a
        // pointer to it, and their results are checked.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::isatty(0) != 1 || libc::tcgetattr(0, &mut saved) != 0 {
                return EchoOff(None);
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = self.0 {
            // SAFETY: restores the settings read in `on_stdin`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &saved);
            }
        }
    }
}
