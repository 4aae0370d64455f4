//! Password hashing: argon2id with the library's defaults (19 MiB, 2 passes,
//! 1 lane: OWASP's minimum), as a PHC string that carries its own salt and
//! parameters. Hashing costs tens of milliseconds and 19 MiB on purpose, so
//! every hash and check of the process goes through [`run`]: at most
//! [`AT_ONCE`] run at once on blocking threads, at most [`QUEUED`] more wait
//! (for at most [`QUEUE_WAIT`]), and the rest are refused at once as busy.
//! A login storm then costs a bounded amount of memory, given back after
//! (the allocator maps each hash's memory and unmaps it when done).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

/// Shortest and longest password accepted.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Password hashes (or checks) running at once in this process.
pub const AT_ONCE: usize = 2;
/// More that may wait for one of those.
pub const QUEUED: usize = 16;
/// Longest a check waits for its turn before it is refused as busy.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

static RUNNING: Semaphore = Semaphore::const_new(AT_ONCE);
static WAITING: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// Every password check is busy: try again after this.
#[derive(Debug, Clone, Copy)]
pub struct Busy(pub Duration);

/// Runs `work` (a hash or a check) with the others of the process, bounded.
///
/// # Errors
/// [`Busy`] when [`QUEUED`] others already wait or the wait passed
/// [`QUEUE_WAIT`].
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let permit = match RUNNING.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            if WAITING.fetch_add(1, Ordering::SeqCst) >= QUEUED {
                WAITING.fetch_sub(1, Ordering::SeqCst);
                REFUSED.fetch_add(1, Ordering::Relaxed);
                return Err(Busy(Duration::from_secs(1)));
            }
            let waited = tokio::time::timeout(QUEUE_WAIT, RUNNING.acquire()).await;
            WAITING.fetch_sub(1, Ordering::SeqCst);
            match waited {
                Ok(Ok(permit)) => permit,
                _ => {
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                    return Err(Busy(Duration::from_secs(1)));
                }
            }
        }
    };
    let done = tokio::task::spawn_blocking(work).await;
    drop(permit);
    done.map_err(|_| Busy(Duration::from_secs(1)))
}

/// Checks running, waiting, and refused as busy since start (for /metrics).
pub fn load() -> (usize, usize, u64) {
    (
        AT_ONCE - RUNNING.available_permits(),
        WAITING.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
    )
}

/// Makes the allocator give a hash's memory back when it is freed: glibc
/// otherwise raises its mmap threshold after the first large free and keeps
/// later 19 MiB blocks in its heaps. Called once at start.
pub fn return_memory_after_hashing() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; 1 MiB is in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Why a password is not acceptable, said so a person can fix it.
///
/// # Errors
/// A message naming the rule broken.
pub fn check(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("a password needs at least {MIN_LEN} characters"));
    }
    if password.len() > MAX_LEN {
        return Err(format!("a password may have at most {MAX_LEN} bytes"));
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
///
/// # Errors
/// Only if the system's random source fails.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Does `password` match the stored PHC string? A malformed one never does.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_a_few_run_at_once_and_the_rest_are_refused_as_busy() {
        use std::sync::{Condvar, Mutex};
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        static NOW: AtomicUsize = AtomicUsize::new(0);
        static RELEASED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
        let tasks: Vec<_> = (0..AT_ONCE + QUEUED + 10)
            .map(|_| {
                tokio::spawn(run(|| {
                    let n = NOW.fetch_add(1, Ordering::SeqCst) + 1;
                    PEAK.fetch_max(n, Ordering::SeqCst);
                    let (lock, cvar) = &RELEASED;
                    let mut released = lock.lock().unwrap();
                    while !*released {
                        released = cvar.wait(released).unwrap();
                    }
                    NOW.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        while load().0 < AT_ONCE || load().1 < QUEUED {
            assert!(std::time::Instant::now() < deadline, "{:?}", load());
            tokio::task::yield_now().await;
        }
        *RELEASED.0.lock().unwrap() = true;
        RELEASED.1.notify_all();
        let mut busy = 0;
        for task in tasks {
            if task.await.unwrap().is_err() {
                busy += 1;
            }
        }
        // Other tests of this binary may hold a turn too: never more than AT_ONCE.
        let peak = PEAK.load(Ordering::SeqCst);
        assert!((1..=AT_ONCE).contains(&peak), "{peak} at once");
        assert!(busy >= 10, "{busy} refused");
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsf", &a));
        assert!(!verify("correct horse", "not a hash"));
        assert!(check("short").is_err());
        assert!(check("long enough").is_ok());
    }
}
