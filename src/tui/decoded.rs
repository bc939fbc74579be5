//! Sessions decoded again on demand ([`Job::Decode`]): the few most
//! recent ones are kept; the detail pane and the stream view read them.

use super::action::Outbox;
use super::feed::micros;
use super::jobs::{DecodedSession, Job};
use super::model::Model;

/// Decoded sessions kept.
const DECODED_CACHE: usize = 3;

/// The decoded sessions and the decode under way.
#[derive(Debug, Default)]
pub struct Decodes {
    /// Most recent first.
    pub list: Vec<Box<DecodedSession>>,
    /// Bumped with every decode received (views rebuild when it changes).
    pub gen: u64,
    /// Decode asked for and not yet answered: (session, message index).
    pub decoding: Option<(u32, u64)>,
    /// Decodes answered without the message: don't ask again.
    pub failed: Option<(u32, u64)>,
}

impl Decodes {
    pub fn get(&self, session: u32) -> Option<&DecodedSession> {
        self.list
            .iter()
            .find(|d| d.session == session)
            .map(|d| &**d)
    }

    /// Asks for `session` to be decoded around message index `center`,
    /// from the last checkpoint before the session's start.
    pub fn request(&mut self, model: &Model, session: u32, center: u64, out: &mut Outbox) {
        if self.decoding == Some((session, center)) {
            return;
        }
        let Some(s) = model.sessions.get(session as usize) else {
            return;
        };
        let start = micros(s.info.start);
        let cps = &model.checkpoints;
        let p = cps.partition_point(|c| c.0 < start);
        let from = if p == 0 { 0 } else { cps[p - 1].1 };
        out.job(Job::Decode {
            key: s.key(session),
            center,
            from,
        });
        self.decoding = Some((session, center));
    }

    /// A decode arrived.
    pub fn accept(&mut self, d: Box<DecodedSession>, out: &mut Outbox) {
        if self.decoding.is_some_and(|(s, _)| s == d.session) {
            let want = self.decoding.take();
            if let Some((s, i)) = want {
                if !d.covers(i) && d.error.is_none() {
                    self.failed = Some((s, i));
                }
            }
        }
        if let Some(e) = &d.error {
            out.error(e.clone());
        }
        self.list.retain(|x| x.session != d.session);
        self.list.insert(0, d);
        self.list.truncate(DECODED_CACHE);
        self.gen += 1;
    }
}
