//! Progress on stderr, one bar per task, for every kind of task: examples for heads and
//! text-to-text, tokens for rolling LM tasks, requests for loglikelihood tasks (the unit the
//! backend reports). In a terminal an indicatif bar; elsewhere (CI logs) a plain line at most
//! every 10 s, and one when the task's model calls end. `-q` turns both off.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use evalrun_core::request::{NoProgress, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// `-q`: only errors on stderr.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Makes one progress reporter per task.
pub struct Bars {
    terminal: bool,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl evalrun_engine::Reporter for Bars {
    fn task(&self, name: &str) -> Box<dyn Progress> {
        if QUIET.load(Ordering::Relaxed) {
            return Box::new(NoProgress);
        }
        if self.terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix:>16} {bar:40} {human_pos}/{human_len} {msg} [{elapsed_precise}<{eta_precise}] {per_sec}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(name.to_string());
            Box::new(Bar(bar))
        } else {
            Box::new(Lines {
                task: name.to_string(),
                unit: "",
                total: 0,
                done: 0,
                started: Instant::now(),
                last: Instant::now(),
            })
        }
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn set_total(&mut self, total: u64, unit: &'static str) {
        self.0.set_length(total);
        self.0.set_message(unit);
    }

    fn advance(&mut self, n: u64) {
        self.0.inc(n);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Plain progress lines for logs that are not terminals.
struct Lines {
    task: String,
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Lines {
    fn print(&self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        eprintln!(
            "progress: {} {}/{} {} ({:.0} s, {:.1} {}/s)",
            self.task,
            self.done,
            self.total,
            self.unit,
            elapsed,
            self.done as f64 / elapsed.max(1e-9),
            self.unit
        );
    }
}

impl Progress for Lines {
    fn set_total(&mut self, total: u64, unit: &'static str) {
        self.total = total;
        self.unit = unit;
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if self.last.elapsed() >= Duration::from_secs(10) {
            self.last = Instant::now();
            self.print();
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if self.started.elapsed() >= Duration::from_secs(10) {
            self.print();
        }
    }
}
