//! Resending a PSP's notification (webhook, callback, server-to-server notification) as the
//! simulated PSPs do: one try now, then one after each delay of `Config::callback_retries`,
//! until the merchant accepts it. What a try sends and what counts as accepted (any 2xx, a
//! 200, an echo, `[OK]`) is each PSP's own.

use std::future::Future;
use std::time::Duration;

/// Runs `attempt` (one try; `true` when the merchant accepted it) now and after each of
/// `retries`, stopping at the first success. Returns whether a try was accepted.
pub(crate) async fn until_accepted<F, Fut>(retries: &[Duration], mut attempt: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut delays = retries.iter();
    loop {
        if attempt().await {
            return true;
        }
        match delays.next() {
            Some(delay) => tokio::time::sleep(*delay).await,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::until_accepted;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn tries_once_plus_once_per_delay_and_stops_at_the_first_success() {
        let retries = [Duration::from_millis(1), Duration::from_millis(1)];
        let tries = &AtomicUsize::new(0);
        let never = until_accepted(&retries, || async move {
            tries.fetch_add(1, Ordering::SeqCst);
            false
        })
        .await;
        assert!(!never);
        assert_eq!(tries.load(Ordering::SeqCst), 3);

        let tries = &AtomicUsize::new(0);
        let second = until_accepted(&retries, || async move {
            tries.fetch_add(1, Ordering::SeqCst) == 1
        })
        .await;
        assert!(second);
        assert_eq!(tries.load(Ordering::SeqCst), 2);
    }
}
