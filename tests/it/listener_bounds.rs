//! Every device listener shares the one accept loop's bounds: one address
//! holds at most `max_connections_per_address` connections (more are
//! closed at accept), and another address is still served.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use crate::blynk::tcp_from as connect_from;

/// Whether the hub closed `stream` without a byte, well before the 10 s a
/// connection has to log in (after which a served one is closed too).
fn closed_at_once(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// A Blynk login with a wrong token is answered (status 9): the connection
/// is served.
fn served_by_blynk(stream: &mut TcpStream) -> bool {
    stream
        .write_all(&crate::blynk::frame(29, 1, b"not-a-token"))
        .unwrap();
    let mut answer = [0u8; 5];
    stream.read_exact(&mut answer).is_ok() && answer == [0, 0, 1, 0, 9]
}

const CONFIG: &str = "\n[blynk]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 3\n\n[mqtt]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 3\n";

fn config() -> String {
    let base = crate::common::TEST_CONFIG;
    let base = &base[..base.find("\n[mqtt]").unwrap()];
    format!("{base}{CONFIG}")
}

#[test]
fn one_address_holds_at_most_its_share_of_a_device_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = crate::common::HubProcess::start(tmp.path(), &config());
    for (name, port) in [("blynk", hub.blynk_port()), ("mqtt", hub.mqtt_port())] {
        let mut held: Vec<TcpStream> = (0..3)
            .map(|_| connect_from(port, Ipv4Addr::LOCALHOST))
            .collect();
        let mut over = connect_from(port, Ipv4Addr::LOCALHOST);
        assert!(
            closed_at_once(&mut over),
            "{name}: a fourth from one address is closed"
        );
        let mut other = connect_from(port, Ipv4Addr::new(127, 0, 0, 2));
        if name == "blynk" {
            assert!(served_by_blynk(&mut other), "another address is served");
            assert!(served_by_blynk(&mut held[0]), "those held are served");
        }
        drop(held.pop());
        // Its place is given back once the hub has seen it close.
        let deadline = std::time::Instant::now() + crate::common::TIMEOUT;
        loop {
            let mut again = connect_from(port, Ipv4Addr::LOCALHOST);
            again
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut byte = [0u8; 1];
            match again.read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                _ => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the place never came back"
            );
        }
    }
}
