//! Session attributes reach sinks as the dissector sets them
//! (`Record::Attr`), not only at the session's end; the writers ignore
//! them, so exports do not change; the `state` attribute (QMP's
//! capabilities negotiation) is reported as it changes and is not part of
//! the session's end.

use std::io;

use qscope::capture::FileSource;
use qscope::engine::{analyze, Config};
use qscope::record::{Flow, Record, Sink, Summary, STATE_ATTR};
use qscope::sink::{ek::EkWriter, json::JsonDocWriter, json::JsonlWriter, text::TextPrinter};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/");

/// What the engine reported, in order, as short strings.
#[derive(Default)]
struct Log(Vec<String>);

impl Sink for Log {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let sid = &rec.session().id;
        let line = match rec {
            Record::Session(_) => format!("{sid} session"),
            Record::Message(m) => format!("{sid} {} {}", m.msg.kind.as_str(), m.msg.name),
            Record::Attr(a) => format!("{sid} attr {}={}", a.key, a.value),
            Record::SessionEnd(e) => {
                let attrs: Vec<String> = e.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{sid} end [{}]", attrs.join(","))
            }
            Record::Gap(_) | Record::Undecoded(_) | Record::Bytes(_) => return Ok(Flow::Continue),
        };
        self.0.push(line);
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

fn log(rel: &str) -> Vec<String> {
    let mut src = FileSource::open(std::path::Path::new(&format!("{SHARED}{rel}"))).unwrap();
    let mut log = Log::default();
    analyze(&mut src, Config::default(), &mut log).unwrap();
    log.0
}

#[test]
fn qmp_reports_negotiation_as_it_happens() {
    let log = log("qmp/qmp-basic.pcap");
    let at = |line: &str| {
        log.iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line} not in {log:#?}"))
    };
    // With the greeting: negotiating (the dissector reports the change
    // with the message that caused it, just before it).
    assert_eq!(
        at("s1 attr state=negotiating") + 1,
        at("s1 greeting greeting")
    );
    // The capabilities accepted: no particular state any more.
    assert_eq!(at("s1 attr state=") + 1, at("s1 response qmp_capabilities"));
    assert_eq!(log.iter().filter(|l| l.contains("attr state")).count(), 2);
    // The session's end does not list the state.
    assert!(log.last().unwrap().starts_with("s1 end"), "{log:#?}");
    assert!(!log.last().unwrap().contains(STATE_ATTR), "{log:#?}");
}

#[test]
fn attributes_arrive_before_the_end_and_match_it() {
    // A QM login: the user is known when the server accepts it.
    let log = log("qm/qm-1-fileops-qmclilib.pcap");
    let user = log
        .iter()
        .position(|l| l.starts_with("s1 attr user="))
        .unwrap_or_else(|| panic!("no user attribute in {log:#?}"));
    let end = log.iter().position(|l| l.starts_with("s1 end")).unwrap();
    assert!(user < end);
    let value = log[user].trim_start_matches("s1 attr user=");
    assert!(
        log[end].contains(&format!("user={value}")),
        "{} / {}",
        log[user],
        log[end]
    );
    // Each change once: a value set again unchanged is not reported again.
    let mut attrs: Vec<&String> = log.iter().filter(|l| l.contains(" attr ")).collect();
    let n = attrs.len();
    attrs.dedup();
    assert_eq!(attrs.len(), n, "{attrs:#?}");
}

#[test]
fn writers_ignore_attribute_changes() {
    let mut src =
        FileSource::open(std::path::Path::new(&format!("{SHARED}qmp/qmp-basic.pcap"))).unwrap();
    let mut sessions = Vec::new();
    struct Keep<'a>(&'a mut Vec<qscope::record::SessionInfo>);
    impl Sink for Keep<'_> {
        fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
            if let Record::Session(s) = rec {
                self.0.push((*s).clone());
            }
            Ok(Flow::Continue)
        }
        fn finish(&mut self, _: &Summary) -> io::Result<()> {
            Ok(())
        }
    }
    analyze(&mut src, Config::default(), &mut Keep(&mut sessions)).unwrap();
    let info = &sessions[0];
    let attr = Record::Attr(qscope::record::AttrRecord {
        session: info,
        key: STATE_ATTR,
        value: "negotiating",
    });
    let mut a = Vec::new();
    JsonlWriter::new(&mut a).record(&attr).unwrap();
    let mut b = Vec::new();
    EkWriter::new(&mut b).record(&attr).unwrap();
    let mut c = Vec::new();
    TextPrinter::new(&mut c, true).record(&attr).unwrap();
    assert!(a.is_empty() && b.is_empty() && c.is_empty());
    // The JSON document has no trace of it either.
    let doc = |recs: &[&Record<'_>]| {
        let mut out = Vec::new();
        let mut w = JsonDocWriter::new(&mut out);
        for r in recs {
            w.record(r).unwrap();
        }
        w.finish(&Summary::default()).unwrap();
        drop(w);
        out
    };
    let session = Record::Session(info);
    assert_eq!(doc(&[&session, &attr]), doc(&[&session]));
}
