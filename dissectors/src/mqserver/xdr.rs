//! Form (c): OSSP-XDS XDR (mqserver.md section 6). There is no length
//! field: a message ends where the body of its type ends, so an
//! unimplemented or unknown type makes the rest of the direction
//! undecodable (section 6.4).

use super::body::{layout, Ty};
use super::common::*;
use crate::Note;

/// Longest string or octet stream accepted (section 6.4).
pub const MAX_ITEM: usize = 16 << 20;

#[derive(Debug)]
pub enum DStep {
    NeedMore,
    Frame(Box<Frame>),
    /// Only the header can be decoded (type without a known body): show
    /// it, then stop decoding the direction.
    HeaderOnly(Box<Frame>),
    /// Undecodable from here: skip `len` bytes and stop.
    Stop {
        len: usize,
        reason: String,
    },
}

fn i32_at(b: &[u8], at: usize) -> Option<i64> {
    be_u32(b, at).map(|v| i64::from(v as i32))
}

/// The section 8 form test at the front: `00 00` at 4, type 1-19 at 6,
/// VERSION 1 at 8. `None` while too few bytes.
pub fn looks_like_header(b: &[u8]) -> Option<bool> {
    for (i, &x) in b.iter().enumerate().take(12) {
        let ok = match i {
            4 | 5 | 6 | 8 | 9 | 10 => x == 0,
            7 => (1..=19).contains(&x),
            11 => x == 1,
            _ => true,
        };
        if !ok {
            return Some(false);
        }
    }
    if b.len() < 12 {
        None
    } else {
        Some(true)
    }
}

/// Decodes the message at the front of `data`.
pub fn parse_front(data: &[u8], eos: bool) -> DStep {
    let (Some(mid), Some(t), Some(version), Some(flags)) = (
        i32_at(data, 0),
        i32_at(data, 4),
        i32_at(data, 8),
        i32_at(data, 12),
    ) else {
        return if eos {
            DStep::Stop {
                len: data.len(),
                reason: "XDR header truncated at the end of the stream".into(),
            }
        } else {
            DStep::NeedMore
        };
    };
    if type_name(t).is_none() {
        return DStep::Stop {
            len: data.len(),
            reason: format!(
                "XDR MSGTYPE {t} outside 1-19: message length unknown, rest of the direction not decoded"
            ),
        };
    }
    let mut frame = Frame {
        form: Form::Xdr,
        len: 16,
        mid: Hv {
            value: mid,
            range: 0..4,
        },
        msgtype: Hv {
            value: t,
            range: 4..8,
        },
        version: Some(Hv {
            value: version,
            range: 8..12,
        }),
        flags: Some(Hv {
            value: flags,
            range: 12..16,
        }),
        extra: Vec::new(),
        body: Body::None,
        notes: Vec::new(),
        secret_fields: Vec::new(),
    };
    let Some(lay) = layout(t).filter(|_| xds_implemented(t)) else {
        frame.notes.push(Note::error(format!(
            "{} has no body layout in the final implementation: body length unknown, XDR stream undecodable; decoding of this direction stopped",
            type_name(t).unwrap_or("type")
        )));
        return DStep::HeaderOnly(Box::new(frame));
    };
    let mut at = 16usize;
    let mut items = Vec::with_capacity(lay.len());
    for (ty, name) in lay {
        let incomplete = |at: usize| {
            if eos {
                DStep::Stop {
                    len: data.len(),
                    reason: format!(
                        "XDR {} truncated at the end of the stream (item {name} at byte {at})",
                        type_name(t).unwrap_or("message")
                    ),
                }
            } else {
                DStep::NeedMore
            }
        };
        let Some(word) = be_u32(data, at) else {
            return incomplete(at);
        };
        match ty {
            Ty::Int => {
                items.push(Item {
                    val: IVal::Int(i64::from(word as i32)),
                    range: at..at + 4,
                    content: at..at + 4,
                    oct: None,
                });
                at += 4;
            }
            Ty::Str | Ty::Oct => {
                let n = usize::try_from(word).unwrap_or(usize::MAX);
                if n > MAX_ITEM {
                    return DStep::Stop {
                        len: data.len(),
                        reason: format!(
                            "XDR item {name} claims {word} bytes (over the {MAX_ITEM}-byte limit): rest of the direction not decoded"
                        ),
                    };
                }
                let pad = (4 - n % 4) % 4;
                let end = at + 4 + n;
                let (Some(bytes), Some(padding)) =
                    (data.get(at + 4..end), data.get(end..end + pad))
                else {
                    return incomplete(at);
                };
                if padding.iter().any(|&p| p != 0) {
                    frame.notes.push(Note::info(format!(
                        "non-zero XDR padding after item {name}"
                    )));
                }
                let val = if *ty == Ty::Str {
                    IVal::Str(bytes.to_vec())
                } else {
                    IVal::Oct(bytes.to_vec())
                };
                items.push(Item {
                    val,
                    range: at..end + pad,
                    content: at + 4..end,
                    oct: (*ty == Ty::Oct).then_some(OctMap::Raw(at + 4)),
                });
                at = end + pad;
            }
        }
    }
    frame.len = at;
    frame.body = Body::Items(items);
    DStep::Frame(Box::new(frame))
}
