//! Request codes and their names (qps.md section 3).

use crate::names::CodeNames;

pub(crate) const SIGNON: u16 = 0x05;
pub(crate) const CLOSE: u16 = 0x06;
pub(crate) const OPEN_HEADER: u16 = 0x08;
pub(crate) const READ_HEADER: u16 = 0x09;
pub(crate) const SAVE_HEADER: u16 = 0x0A;
pub(crate) const CLOSE_HEADER: u16 = 0x0E;
pub(crate) const SEARCH: u16 = 0x14;
pub(crate) const SIGN_OFF: u16 = 0x16;
pub(crate) const GET_STATUSES: u16 = 0x2B;
pub(crate) const GET_REPOSITORIES: u16 = 0x40;
pub(crate) const SEARCH_COUNT: u16 = 0x42;
pub(crate) const GET_SEARCH_RESULTS: u16 = 0x43;
pub(crate) const GET_HEADERS: u16 = 0x4A;
pub(crate) const GET_PUBLICATIONS: u16 = 0x66;

/// Request type names (section 3).
pub static REQUESTS: CodeNames = CodeNames {
    what: "QPS request",
    optional_prefix: "",
    aliases: &[],
    entries: &[
        (SIGNON as i64, "Signon"),
        (CLOSE as i64, "Close"),
        (OPEN_HEADER as i64, "OpenHeader"),
        (READ_HEADER as i64, "ReadHeader"),
        (SAVE_HEADER as i64, "SaveHeader"),
        (CLOSE_HEADER as i64, "CloseHeader"),
        (SEARCH as i64, "Search"),
        (SIGN_OFF as i64, "SignOff"),
        (GET_STATUSES as i64, "GetStatuses"),
        (GET_REPOSITORIES as i64, "GetRepositories"),
        (SEARCH_COUNT as i64, "SearchCount"),
        (GET_SEARCH_RESULTS as i64, "GetSearchResults"),
        (GET_HEADERS as i64, "GetHeaders"),
        (GET_PUBLICATIONS as i64, "GetPublications"),
    ],
};

/// The name of a request code (section 3).
pub(crate) fn code_name(code: u16) -> Option<&'static str> {
    REQUESTS.name_of(i64::from(code))
}

pub(super) fn request_name(code: u16) -> String {
    match code_name(code) {
        Some(n) => n.to_owned(),
        None => format!("unknown code 0x{code:02x}"),
    }
}

/// Data type names (4.2).
pub(super) fn type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        1 => "String",
        2 => "Time stamp",
        4 => "Integer",
        5 => "Float",
        6 => "Checkbox",
        7 => "Dropdown",
        _ => return None,
    })
}
