//! A progress bar on standard error for offline work that takes more than a
//! second: percent of the file, rate, time left. Only on a terminal, never
//! for live capture, off with `-q`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capture::{CaptureError, Next, Packet, Source};

/// Work shorter than this shows no bar.
const DELAY: Duration = Duration::from_secs(1);
/// Packets between looks at the clock.
const EVERY: u64 = 4096;

/// Wraps a source and draws its progress.
pub struct WithProgress<S> {
    inner: S,
    started: Instant,
    bar: Option<ProgressBar>,
    packets: u64,
}

impl<S: Source> WithProgress<S> {
    /// `Ok(source)` wrapped when a bar makes sense (a terminal on stderr, a
    /// file of known size, not live, not quiet); `Err(source)` otherwise.
    pub fn wrap(inner: S, quiet: bool) -> Result<WithProgress<S>, S> {
        let sized = inner.progress().is_some_and(|(_, total)| total.is_some());
        if quiet || inner.live() || !sized || !std::io::stderr().is_terminal() {
            return Err(inner);
        }
        Ok(WithProgress {
            inner,
            started: Instant::now(),
            bar: None,
            packets: 0,
        })
    }

    fn tick(&mut self) {
        self.packets += 1;
        if !self.packets.is_multiple_of(EVERY) {
            return;
        }
        let Some((done, Some(total))) = self.inner.progress() else {
            return;
        };
        if self.bar.is_none() && self.started.elapsed() >= DELAY {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30} {percent:>3}%  {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}  {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done.min(total));
        }
    }
}

impl<S> Drop for WithProgress<S> {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl<S: Source> Source for WithProgress<S> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.tick();
        let done = self.inner.next_packet();
        if !matches!(done, Ok(Some(_))) {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
        }
        done
    }
    fn dropped(&mut self) -> Option<u64> {
        self.inner.dropped()
    }
    fn live(&self) -> bool {
        self.inner.live()
    }
    fn next_or_idle(&mut self, wait: Duration) -> Result<Next<'_>, CaptureError> {
        self.tick();
        let r = self.inner.next_or_idle(wait);
        if !matches!(r, Ok(Next::Packet(_)) | Ok(Next::Idle)) {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
        }
        r
    }
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        self.inner.progress()
    }
    fn reopen(&self) -> Option<Box<dyn Source + Send>> {
        // The other readers draw no bar: this one shows the progress.
        self.inner.reopen()
    }
}
