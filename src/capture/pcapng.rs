//! A pcapng interface, as its Interface Description Block describes it:
//! what [`FileSource`](super::FileSource) needs to read the packets
//! captured on it.

use pcap_parser::{InterfaceDescriptionBlock, OptionCode};

use super::source::{LinkType, Timestamp};

/// A pcapng interface (from an Interface Description Block).
pub(super) struct Iface {
    pub link: LinkType,
    pub snaplen: u32,
    /// Timestamp units per second (`if_tsresol`; 10^6 by default).
    pub units_per_sec: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub offset_secs: i64,
}

impl Iface {
    /// Reads link type, snap length, `if_tsresol` and `if_tsoffset`.
    /// `None` if the timestamp resolution is out of range.
    pub fn from_idb(idb: &InterfaceDescriptionBlock<'_>, big_endian: bool) -> Option<Iface> {
        let mut tsresol = 6u8;
        let mut offset_secs = 0i64;
        for opt in &idb.options {
            let value = opt.value();
            if opt.code == OptionCode::IfTsresol {
                if let Some(&r) = value.first() {
                    tsresol = r;
                }
            } else if opt.code == OptionCode::IfTsoffset {
                if let Some(&b) = value.first_chunk::<8>() {
                    offset_secs = if big_endian {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    };
                }
            }
        }
        let units_per_sec = if tsresol & 0x80 == 0 {
            10u64.checked_pow(u32::from(tsresol))?
        } else {
            1u64.checked_shl(u32::from(tsresol & 0x7f))?
        };
        Some(Iface {
            link: LinkType(u32::from(idb.linktype.0 as u16)),
            snaplen: idb.snaplen,
            units_per_sec,
            offset_secs,
        })
    }

    /// Converts a raw EPB timestamp (in this interface's units) to a
    /// [`Timestamp`]; more precise than µs means nanosecond precision.
    pub fn timestamp(&self, raw: u64) -> Timestamp {
        let units = self.units_per_sec.max(1);
        let secs = i64::try_from(raw / units).unwrap_or(i64::MAX);
        let frac = u128::from(raw % units);
        // frac < units, so the result is < 1e9 and fits in u32.
        let nanos = (frac * 1_000_000_000 / u128::from(units)) as u32;
        Timestamp {
            secs: secs.saturating_add(self.offset_secs),
            nanos,
            nano: units > 1_000_000,
        }
    }
}
