//! The SQLite binary encoding of EARLY DATA (mqserver.md section 5.3): the
//! older `sqlite_encode_binary` carried in the MQServer repository, which
//! escapes 0x27 as `01 03` (the later `01 28` is accepted when decoding).

/// The offset byte the encoder chooses for `input` (5.3 step 2): the first
/// of 0x01..=0xFF (0x27 skipped) with the fewest input bytes equal to
/// `e`, `e+1` or `e+0x27`, stopping at the first with none.
pub fn choose_offset(input: &[u8]) -> u8 {
    let mut cnt = [0usize; 256];
    for &b in input {
        if let Some(c) = cnt.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let at = |v: u8| cnt.get(usize::from(v)).copied().unwrap_or(0);
    let mut best: Option<(usize, u8)> = None;
    for e in 1..=255u8 {
        if e == 0x27 {
            continue;
        }
        let sum = at(e) + at(e.wrapping_add(1)) + at(e.wrapping_add(0x27));
        if best.is_none_or(|(m, _)| sum < m) {
            best = Some((sum, e));
            if sum == 0 {
                break;
            }
        }
    }
    best.map_or(1, |(_, e)| e)
}

/// Encodes `input` (without the terminating NUL).
pub fn encode(input: &[u8]) -> Vec<u8> {
    if input.is_empty() {
        return vec![b'x'];
    }
    let e = choose_offset(input);
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 2);
    out.push(e);
    for &b in input {
        match b.wrapping_sub(e) {
            0x00 => out.extend_from_slice(&[1, 1]),
            0x01 => out.extend_from_slice(&[1, 2]),
            0x27 => out.extend_from_slice(&[1, 3]),
            c => out.push(c),
        }
    }
    out
}

/// A successful decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub bytes: Vec<u8>,
    /// Index in the encoded input of the byte(s) each output byte came from.
    pub starts: Vec<usize>,
    /// The later SQLite escape `01 28` was used.
    pub late_variant: bool,
}

/// Why DATA is not an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    /// The offset byte is 0x00 or 0x27.
    BadOffset(u8),
    /// `01` followed by a byte other than 01, 02, 03 or 28, at this index.
    BadEscape {
        at: usize,
        byte: u8,
    },
    /// `01` as the last byte.
    TrailingEscape,
    /// A `00` byte inside the data, at this index.
    Nul {
        at: usize,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty DATA"),
            DecodeError::BadOffset(b) => write!(f, "offset byte 0x{b:02X}"),
            DecodeError::BadEscape { at, byte } => {
                write!(f, "bad escape 01 {byte:02X} at DATA byte {at}")
            }
            DecodeError::TrailingEscape => f.write_str("01 escape as the last byte"),
            DecodeError::Nul { at } => write!(f, "00 byte at DATA byte {at}"),
        }
    }
}

/// Decodes SQLite-encoded DATA (the terminator not included).
pub fn decode(enc: &[u8]) -> Result<Decoded, DecodeError> {
    let (&e, rest) = enc.split_first().ok_or(DecodeError::Empty)?;
    if e == 0x00 || e == 0x27 {
        return Err(DecodeError::BadOffset(e));
    }
    let mut bytes = Vec::with_capacity(rest.len());
    let mut starts = Vec::with_capacity(rest.len());
    let mut late_variant = false;
    let mut i = 0usize;
    while let Some(&c) = rest.get(i) {
        let at = i + 1;
        let c = match c {
            0 => return Err(DecodeError::Nul { at }),
            1 => {
                let x = *rest.get(i + 1).ok_or(DecodeError::TrailingEscape)?;
                i += 1;
                match x {
                    1 => 0x00,
                    2 => 0x01,
                    3 => 0x27,
                    0x28 => {
                        late_variant = true;
                        0x27
                    }
                    byte => return Err(DecodeError::BadEscape { at: at + 1, byte }),
                }
            }
            c => c,
        };
        bytes.push(c.wrapping_add(e));
        starts.push(at);
        i += 1;
    }
    Ok(Decoded {
        bytes,
        starts,
        late_variant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_fish_haha() {
        let enc = encode(b"fish haha");
        assert_eq!(
            enc,
            [0x01, 0x65, 0x68, 0x72, 0x67, 0x1f, 0x67, 0x60, 0x67, 0x60]
        );
        assert_eq!(decode(&enc).unwrap().bytes, b"fish haha");
    }

    #[test]
    fn empty_body_is_x() {
        assert_eq!(encode(b""), b"x");
        let d = decode(b"x").unwrap();
        assert!(d.bytes.is_empty());
    }

    #[test]
    fn escape_cases_00_01_27() {
        // Offset 1 is avoided when 0x01, 0x02 or 0x28 occur; with all byte
        // values present every offset needs escapes.
        let all: Vec<u8> = (0..=255u8).collect();
        let enc = encode(&all);
        assert!(!enc.contains(&0), "no NUL in an encoding");
        let e = enc[0];
        assert_ne!(e, 0x27);
        let d = decode(&enc).unwrap();
        assert_eq!(d.bytes, all);
        assert!(!d.late_variant);
        // Each of the three escapes is produced exactly where expected.
        let enc = encode(&[0x41, 0x01, 0x02, 0x28]);
        assert_eq!(enc[0], 0x03, "first offset without a collision");
        // Force offset 1: bytes equal to e, e+1 and e+0x27 are escaped.
        let mut enc = vec![0x01];
        enc.extend_from_slice(&[0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x41]);
        let d = decode(&enc).unwrap();
        assert_eq!(d.bytes, [0x01, 0x02, 0x28, 0x42]);
        assert_eq!(d.starts, [1, 3, 5, 7]);
    }

    #[test]
    fn late_variant_and_errors() {
        let d = decode(&[0x01, 0x01, 0x28]).unwrap();
        assert_eq!(d.bytes, [0x28]);
        assert!(d.late_variant);
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[0x27, 0x41]), Err(DecodeError::BadOffset(0x27)));
        assert_eq!(decode(&[0x00]), Err(DecodeError::BadOffset(0)));
        assert_eq!(
            decode(&[0x01, 0x41, 0x01, 0x07]),
            Err(DecodeError::BadEscape { at: 3, byte: 7 })
        );
        assert_eq!(decode(&[0x01, 0x01]), Err(DecodeError::TrailingEscape));
        assert_eq!(decode(&[0x01, 0x41, 0x00]), Err(DecodeError::Nul { at: 2 }));
    }

    #[test]
    fn round_trip_is_canonical() {
        for input in [
            &b"Budget passed | vote 7\xe2\x80\x932"[..],
            b"it's",
            b"\x00\x00\x01",
            b"((((''''",
        ] {
            let enc = encode(input);
            assert_eq!(decode(&enc).unwrap().bytes, input);
            assert_eq!(encode(&decode(&enc).unwrap().bytes), enc);
        }
    }
}
