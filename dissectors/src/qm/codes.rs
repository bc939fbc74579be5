//! Function codes, outcome codes and the status hints of `qm.md` sections
//! 3 and 4.

use std::borrow::Cow;

use crate::names::CodeNames;

/// Names of the 46 function codes (0 is illegal), as in `qm.md` section 4.
pub static FUNCTIONS: CodeNames = CodeNames {
    what: "QM function",
    optional_prefix: "",
    aliases: &[],
    entries: &[
        (1, "Quit"),
        (2, "GetError"),
        (3, "Account"),
        (4, "Open"),
        (5, "Close"),
        (6, "Read"),
        (7, "Readl"),
        (8, "Readlw"),
        (9, "Readu"),
        (10, "Readuw"),
        (11, "Select"),
        (12, "ReadNext"),
        (13, "ClearSelect"),
        (14, "ReadList"),
        (15, "Release"),
        (16, "Write"),
        (17, "Writeu"),
        (18, "Delete"),
        (19, "Deleteu"),
        (20, "Call"),
        (21, "Execute"),
        (22, "Respond"),
        (23, "EndCommand"),
        (24, "Login"),
        (25, "LocalLogin"),
        (26, "SelectIndex"),
        (27, "EnterPackage"),
        (28, "ExitPackage"),
        (29, "OpenQMNet"),
        (30, "LockRecord"),
        (31, "Clearfile"),
        (32, "Filelock"),
        (33, "Fileunlock"),
        (34, "Recordlocked"),
        (35, "Indices1"),
        (36, "Indices2"),
        (37, "SelectList"),
        (38, "SelectIndexv"),
        (39, "SelectIndexk"),
        (40, "Fileinfo"),
        (41, "Readv"),
        (42, "SetLeft"),
        (43, "SetRight"),
        (44, "SelectLeft"),
        (45, "SelectRight"),
        (46, "MarkMapping"),
    ],
};

pub const QUIT: i16 = 1;
pub const GET_ERROR: i16 = 2;
pub const ACCOUNT: i16 = 3;
pub const OPEN: i16 = 4;
pub const CLOSE: i16 = 5;
pub const READLW: i16 = 8;
pub const READUW: i16 = 10;
pub const WRITE: i16 = 16;
pub const WRITEU: i16 = 17;
pub const EXECUTE: i16 = 21;
pub const RESPOND: i16 = 22;
pub const END_COMMAND: i16 = 23;
pub const LOGIN: i16 = 24;
pub const LOCAL_LOGIN: i16 = 25;
pub const OPEN_QMNET: i16 = 29;

/// Highest function code defined by OpenQM 2.x / ScarletDME.
pub const MAX_CODE: i16 = 46;

/// Whether `code` is one of the 46 defined functions.
pub fn is_known(code: i16) -> bool {
    (1..=MAX_CODE).contains(&code)
}

/// The function's name; codes outside 1..=46 are named as such
/// (DECISIONs 9 and 20).
pub fn function_name(code: i16) -> Cow<'static, str> {
    match FUNCTIONS.name_of(i64::from(code)) {
        Some(n) => Cow::Borrowed(n),
        _ if code > MAX_CODE => Cow::Owned(format!("unknown function {code}")),
        _ => Cow::Owned(format!("illegal function {code}")),
    }
}

/// Outcome codes (section 3.1).
pub const SV_OK: i16 = 0;
pub const SV_ON_ERROR: i16 = 1;
pub const SV_ELSE: i16 = 2;
pub const SV_ERROR: i16 = 3;
pub const SV_LOCKED: i16 = 4;
pub const SV_PROMPT: i16 = 5;

/// Outcome names (section 3.1); the `SV_` prefix may be left out, and
/// the BASIC spellings (`SV$OK`, ...) are accepted as aliases.
pub static OUTCOMES: CodeNames = CodeNames {
    what: "QM outcome",
    optional_prefix: "SV_",
    aliases: &[
        (0, "SV$OK"),
        (1, "SV$ON.ERROR"),
        (2, "SV$ELSE"),
        (3, "SV$ERROR"),
        (4, "SV$LOCKED"),
    ],
    entries: &[
        (0, "SV_OK"),
        (1, "SV_ON_ERROR"),
        (2, "SV_ELSE"),
        (3, "SV_ERROR"),
        (4, "SV_LOCKED"),
        (5, "SV_PROMPT"),
    ],
};

/// `SV_OK` ... `SV_PROMPT`, or `None` for undefined values.
pub fn outcome_name(o: i16) -> Option<&'static str> {
    OUTCOMES.name_of(i64::from(o))
}

/// The short form used in summaries (`OK`, `ON_ERROR`, ...).
pub fn outcome_short(o: i16) -> Cow<'static, str> {
    match outcome_name(o) {
        Some(n) => Cow::Borrowed(n.trim_start_matches(OUTCOMES.optional_prefix)),
        None => Cow::Owned(format!("outcome {o}")),
    }
}

/// What an SV_ELSE status usually means (section 3.1).
pub fn else_reason(status: i32, code: Option<i16>) -> Option<&'static str> {
    Some(match status {
        3006 => "record not found",
        3007 => "no VOC entry / file not found",
        3000 => "illegal id",
        7009 => "remote access not allowed",
        0 if code == Some(12) => "select list exhausted",
        _ => return None,
    })
}

/// FILEINFO keys as observed (section 4.1, code 40).
pub fn fileinfo_key(key: i32) -> Option<&'static str> {
    Some(match key {
        0 => "FL$OPEN",
        1 => "FL$VOCNAME",
        2 => "FL$PATH",
        3 => "FL$TYPE",
        _ => return None,
    })
}

/// Read-type functions answered with a record (6–10).
pub fn is_read(code: i16) -> bool {
    (6..=10).contains(&code)
}

/// Requests that may wait a long time for a lock (section 7, rule 8):
/// Readlw/Readuw always; LockRecord without the no-wait bit and Filelock
/// with a non-zero wait flag are decided by the request decoder.
pub fn always_waits(code: i16) -> bool {
    code == READLW || code == READUW
}
