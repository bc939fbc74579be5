//! Qps dissector (placeholder until written).
use crate::{Ctx, Dir, Dissector, Options, SessionStart, Severity, Step, Verdict};

pub fn probe(_c2s: &[u8], _s2c: &[u8], _start: SessionStart) -> Verdict {
    Verdict::NoMatch(None)
}

pub struct Qps;

impl Qps {
    pub fn new(_start: SessionStart, _opts: Options) -> Qps {
        Qps
    }
}

impl Dissector for Qps {
    fn parse(&mut self, _dir: Dir, _offset: u64, data: &[u8], _ctx: &mut Ctx) -> Step {
        Step::skip(data.len(), "not implemented", Severity::Warn)
    }
    fn gap(&mut self, _: Dir, _: u64, _: u64, _: &mut Ctx) {}
    fn close(&mut self, _: &mut Ctx) {}
}
