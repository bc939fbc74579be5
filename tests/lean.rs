//! `stats` runs the dissectors lean (`Options::lean`): they leave out the
//! fields that hold a message's bulk content, and QM's structured views of
//! it, which statistics never read; QMP and QM leave out the summary too.
//! Nothing else may change: every record is the same, each message has the
//! same fields but those, and so the report is the same.

mod common;

use std::io;
use std::path::{Path, PathBuf};

use common::{bundled, mixed};
use qscope::engine::{analyze, Config};
use qscope::record::{Flow, Record, Sink, Summary};
use qscope_dissectors::{Field, Options, Value};

/// Every record as text, with the fields and the summary of each message
/// apart.
#[derive(Default)]
struct Keep {
    records: Vec<String>,
    fields: Vec<Vec<Field>>,
    summaries: Vec<(&'static str, String)>,
}

impl Sink for Keep {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Message(m) => {
                let mut msg = m.msg.clone();
                self.fields.push(std::mem::take(&mut msg.fields));
                self.summaries
                    .push((m.session.proto.as_str(), std::mem::take(&mut msg.summary)));
                self.records.push(format!(
                    "{msg:?} #{} {} reply_to={:?} latency={:?} links={:?}",
                    m.index, m.frame, m.reply_to, m.latency_us, m.links
                ));
            }
            other => self.records.push(format!("{other:?}")),
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.records.push(format!("{summary:?}"));
        Ok(())
    }
}

fn run(path: &Path, lean: bool) -> Keep {
    let mut src = qscope::capture::FileSource::open(path).unwrap();
    let cfg = Config {
        opts: Options {
            lean,
            ..Options::default()
        },
        ..Config::default()
    };
    let mut keep = Keep::default();
    analyze(&mut src, cfg, &mut keep).unwrap();
    keep
}

fn captures() -> Vec<PathBuf> {
    let mut out = vec![mixed("lean", 2)];
    for d in std::fs::read_dir(bundled("")).unwrap() {
        let d = d.unwrap().path();
        if d.is_dir() {
            for f in std::fs::read_dir(&d).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|x| x == "pcap") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn lean_dissection_leaves_out_bulk_fields_only() {
    let mut dropped_names = std::collections::BTreeSet::new();
    let mut summaries_left_out = std::collections::BTreeSet::new();
    for path in captures() {
        let full = run(&path, false);
        let lean = run(&path, true);
        assert_eq!(full.records, lean.records, "{}", path.display());
        for ((proto, f), (_, l)) in full.summaries.iter().zip(&lean.summaries) {
            if matches!(*proto, "qmp" | "qm") {
                assert_eq!(l, "", "{}: {proto} summary {f:?}", path.display());
                if !f.is_empty() {
                    summaries_left_out.insert(*proto);
                }
            } else {
                assert_eq!(f, l, "{}", path.display());
            }
        }
        for (i, (f, l)) in full.fields.iter().zip(&lean.fields).enumerate() {
            // The lean fields are the full ones in order, less some.
            let kept: Vec<&Field> = f.iter().filter(|x| l.contains(x)).collect();
            assert_eq!(
                kept,
                l.iter().collect::<Vec<_>>(),
                "{} #{i}",
                path.display()
            );
            for x in f.iter().filter(|x| !l.contains(x)) {
                // Bulk content, or a QM record's structured view of it.
                let view = x.name.ends_with("_fields") && matches!(x.value, Value::List(_));
                assert!(
                    matches!(x.value, Value::Bytes(_) | Value::Json(_)) || view,
                    "{} message {i}: {} is not bulk content",
                    path.display(),
                    x.name
                );
                dropped_names.insert(x.name.to_string());
            }
        }
    }
    // It does leave something out, in both protocols with bulk content.
    for name in ["value", "record", "output", "record_fields"] {
        assert!(dropped_names.contains(name), "{dropped_names:?}");
    }
    assert_eq!(summaries_left_out.len(), 2, "{summaries_left_out:?}");
}
