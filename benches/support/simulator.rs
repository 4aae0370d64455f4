//! A Blynk device simulator, run as its own process by the devices bench
//! (the bench re-executes itself with `HEARTH_DEVICE_SIMULATOR=PORT`):
//! one real TCP connection per token read from stdin's first line (space
//! separated), each logged in with a 10 s heartbeat, pinging when idle
//! and echoing every value the hub writes to it (as a device confirming a
//! command does). Then it obeys stdin: `flood SECS` makes every device
//! write `vw 1 n` as fast as the hub takes it for SECS seconds and prints
//! `sent N`; `quit` ends it. It prints `ready N` once all are logged in.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

fn frame(command: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![command];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

async fn read_frame(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Option<(u8, u16, Vec<u8>)> {
    let mut header = [0u8; 5];
    reader.read_exact(&mut header).await.ok()?;
    let len = u16::from_be_bytes([header[3], header[4]]);
    let mut body = vec![0u8; if header[0] == 0 { 0 } else { usize::from(len) }];
    reader.read_exact(&mut body).await.ok()?;
    Some((header[0], u16::from_be_bytes([header[1], header[2]]), body))
}

struct Shared {
    /// Flood until this instant (milliseconds since `epoch`); 0: no flood.
    flood_until: AtomicU64,
    epoch: std::time::Instant,
    sent: AtomicU64,
}

impl Shared {
    fn flooding(&self) -> bool {
        let until = self.flood_until.load(Ordering::Relaxed);
        until != 0 && (self.epoch.elapsed().as_millis() as u64) < until
    }
}

async fn device(
    port: u16,
    token: String,
    shared: Arc<Shared>,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).unwrap();
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(Mutex::new(writer));
    writer
        .lock()
        .await
        .write_all(&frame(29, 1, token.as_bytes()))
        .await
        .unwrap();
    let (_, _, _) = read_frame(&mut reader).await.expect("login answer");
    writer
        .lock()
        .await
        .write_all(&frame(17, 2, b"ver\x000.1\x00h-beat\x0010\x00dev\x00sim"))
        .await
        .unwrap();
    read_frame(&mut reader).await.expect("INTERNAL answer");
    let _ = ready.send(()).await;
    // Echo what the hub writes; answer nothing else.
    let echo = writer.clone();
    tokio::spawn(async move {
        let mut id: u16 = 1000;
        while let Some((command, _, body)) = read_frame(&mut reader).await {
            if command == 20 {
                id = id.wrapping_add(1).max(1000);
                let _ = echo.lock().await.write_all(&frame(20, id, &body)).await;
            }
        }
    });
    let mut id: u16 = 3;
    let mut n: u64 = 0;
    let mut ping = tokio::time::interval(Duration::from_secs(8));
    loop {
        if shared.flooding() {
            // Sixteen frames per write, as a busy device's buffer would.
            let mut batch = Vec::with_capacity(16 * 20);
            for _ in 0..16 {
                id = id.wrapping_add(1).max(3);
                n += 1;
                batch.extend_from_slice(&frame(
                    20,
                    id,
                    format!("vw\x001\x00{}", n % 1_000_000).as_bytes(),
                ));
            }
            if writer.lock().await.write_all(&batch).await.is_err() {
                return;
            }
            shared.sent.fetch_add(16, Ordering::Relaxed);
            continue;
        }
        tokio::select! {
            _ = ping.tick() => {
                id = id.wrapping_add(1).max(3);
                if writer.lock().await.write_all(&frame(6, id, b"")).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// The simulator's `main`.
pub fn run(port: u16) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let tokens: Vec<String> = lines
        .next()
        .unwrap()
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let shared = Arc::new(Shared {
        flood_until: AtomicU64::new(0),
        epoch: std::time::Instant::now(),
        sent: AtomicU64::new(0),
    });
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(tokens.len());
        for token in &tokens {
            tokio::spawn(device(port, token.clone(), shared.clone(), tx.clone()));
        }
        for _ in 0..tokens.len() {
            rx.recv().await.expect("every device logs in");
        }
    });
    println!("ready {}", tokens.len());
    for line in lines {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["flood", secs] => {
                let secs: f64 = secs.parse().unwrap();
                let before = shared.sent.load(Ordering::Relaxed);
                let until = shared.epoch.elapsed() + Duration::from_secs_f64(secs);
                shared
                    .flood_until
                    .store(until.as_millis() as u64, Ordering::Relaxed);
                // The devices watch the deadline themselves; this thread only
                // reports (the runtime's timers may lag under the flood).
                std::thread::sleep(Duration::from_secs_f64(secs) + Duration::from_millis(200));
                println!("sent {}", shared.sent.load(Ordering::Relaxed) - before);
            }
            ["quit"] | [] => break,
            _ => eprintln!("simulator: unknown command {line:?}"),
        }
    }
}

/// The simulator as a bench drives it: this binary again, in its own
/// process, with one device per token.
pub struct Simulator {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Simulator {
    /// Starts it against the hub's Blynk `port`; its devices log in.
    pub fn start(port: u16, tokens: &[String]) -> Self {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("HEARTH_DEVICE_SIMULATOR", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let output = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        writeln!(input, "{}", tokens.join(" ")).unwrap();
        Simulator {
            child,
            input,
            output,
        }
    }

    /// The next line it prints (`ready N`, `sent N`).
    pub fn line(&mut self) -> String {
        self.output.next().unwrap().unwrap()
    }

    /// Tells it `command` (`flood SECS`).
    pub fn tell(&mut self, command: &str) {
        use std::io::Write;
        writeln!(self.input, "{command}").unwrap();
    }

    /// Ends it and waits for it.
    pub fn quit(mut self) {
        self.tell("quit");
        let _ = self.child.wait();
    }
}
