//! Blynk over a serial line (issue 5): `socat` makes a pseudo-terminal the
//! hub opens as its serial port and turns a real Blynk client's TCP
//! connection into that line. Unplugging (socat exits, the pty goes) and
//! replugging brings the device back; noise on the line is skipped.

use crate::{api, blynk, common};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use api::household_with;
use blynk::{
    Client, Kind, RawDevice, command, frame, is_online, is_value, provision, thermostat_template,
    wait_stream,
};

/// A "plugged-in board": socat with a pty linked at `link` on one side and
/// a TCP listener (for the client playing the board) on the other.
struct Board {
    socat: Child,
    port: u16,
}

impl Board {
    fn plug(link: &Path) -> Board {
        let mut socat = Command::new("socat")
            .args(["-d", "-d"])
            .arg(format!("PTY,link={},raw,echo=0", link.display()))
            .arg("TCP-LISTEN:0,bind=127.0.0.1,reuseaddr")
            .stderr(Stdio::piped())
            .spawn()
            .expect("socat (scripts/test-deps.sh installs it)");
        let stderr = BufReader::new(socat.stderr.take().unwrap());
        let mut port = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(addr) = line.split("listening on AF=2 ").nth(1) {
                port = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
                break;
            }
        }
        Board {
            socat,
            port: port.expect("socat said where it listens"),
        }
    }

    fn unplug(mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

fn config(link: &Path) -> String {
    format!(
        "{}\n[[blynk.serial]]\npath = \"{}\"\nbaud = 115200\n",
        common::TEST_CONFIG,
        link.parent().unwrap().join("ttyBoard*").display()
    )
}

#[test]
fn a_real_client_over_a_serial_line_survives_unplug_and_replug() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("ttyBoard0");
    let h = household_with(&tmp.path().join("state"), &config(&link));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "USB board", &template);
    let mut stream = h.api.stream(&h.admin);

    let board = Board::plug(&link);
    h.hub.wait_log("opened at 115200 baud", 1);
    let mut client = Client::start(Kind::BlynkLib, "127.0.0.1", board.port, &token, None);
    client.wait_connected();
    wait_stream(&h, &mut stream, "online", is_online(&device, true));
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        values.body["online"]["transport"], "serial",
        "{}",
        values.body
    );
    client.send("vw 1 55");
    wait_stream(&h, &mut stream, "V1 = 55", is_value(&device, "V1", "55"));
    let put = command(&h, &device, "V2", serde_json::json!("over serial"));
    assert_eq!(put.status, 200, "{}", put.body);
    client.wait_write(2, &["over serial"]);

    // Unplug: the line is gone, the device goes offline.
    drop(client);
    board.unplug();
    wait_stream(&h, &mut stream, "offline", is_online(&device, false));

    // Replug: the hub reopens the port and the device comes back.
    let board = Board::plug(&link);
    h.hub.wait_log("opened at 115200 baud", 2);
    let mut client = Client::start(Kind::BlynkLib, "127.0.0.1", board.port, &token, None);
    client.wait_connected();
    wait_stream(&h, &mut stream, "online again", is_online(&device, true));
    client.send("sync 1");
    client.wait_write(1, &["55"]);
}

#[test]
fn noise_on_a_serial_line_is_skipped_and_the_device_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("ttyBoard0");
    let h = household_with(&tmp.path().join("state"), &config(&link));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Noisy board", &template);
    let mut stream = h.api.stream(&h.admin);
    let board = Board::plug(&link);
    h.hub.wait_log("opened at 115200 baud", 1);

    let mut line = RawDevice::connect(board.port);
    // Line noise (a floating line reads as 0xff): no frame can start in it.
    // The frame right after noise carries id 0xffff, so no window that
    // straddles the noise and the frame looks like a frame either.
    line.send_raw(&[0xff; 23]);
    line.send_raw(&frame(29, 0xffff, token.as_bytes()));
    assert_eq!(
        line.status_of(0xffff),
        200,
        "the login after the noise is heard"
    );
    wait_stream(&h, &mut stream, "online", is_online(&device, true));
    line.send_raw(&[0xff; 7]);
    line.send_raw(&frame(20, 0xffff, b"vw\x001\x0014"));
    wait_stream(
        &h,
        &mut stream,
        "a value after the noise",
        is_value(&device, "V1", "14"),
    );
    // The noise is logged (the log reaches the test by its own pipe).
    h.hub.wait_log("skipping bytes until frames make sense", 1);
}
