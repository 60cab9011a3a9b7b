//! SIGINT/SIGTERM handling: the first signal asks for a graceful shutdown (running reconciles
//! finish their writes, the Lease is released), the second forces it.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

use crate::health::Health;

/// Counts SIGINT/SIGTERM signals and marks the process unready on the first.
pub fn listen(health: Arc<Health>) -> watch::Receiver<u8> {
    let (tx, rx) = watch::channel(0u8);
    tokio::spawn(async move {
        for count in 1..=2u8 {
            shutdown_signal().await;
            if count == 1 {
                info!("shutdown requested: finishing running reconciles (signal again to force)");
                health.set_stopping();
            }
            tx.send_replace(count);
        }
    });
    rx
}

/// Completes once `count` signals have arrived.
pub async fn signaled(mut signals: watch::Receiver<u8>, count: u8) {
    if signals.wait_for(|seen| *seen >= count).await.is_err() {
        // The listener is gone (no signal handling available): never completes.
        std::future::pending::<()>().await;
    }
}

/// Completes on the next SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}
