//! The framing of stored document bytes. A stored document is a save followed by zero or more
//! changes, each an Automerge chunk: four magic bytes, a four-byte checksum, a type byte, the
//! length of the rest as an unsigned LEB128 number, then the rest. Counting the chunks tells how
//! many changes were appended to a save since it was written, without decoding any of them.

/// The bytes every Automerge chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// How many chunks `bytes` holds one after another; `None` if they are not whole chunks.
pub fn count_chunks(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let mut count = 0;
    while !rest.is_empty() {
        let header = rest.get(..MAGIC.len() + 5)?;
        if header[..MAGIC.len()] != MAGIC {
            return None;
        }
        rest = &rest[header.len()..];
        let (length, used) = leb128(rest)?;
        rest = rest.get(used..)?;
        rest = rest.get(usize::try_from(length).ok()?..)?;
        count += 1;
    }
    Some(count)
}

/// An unsigned LEB128 number at the start of `bytes`, and how many bytes it took.
fn leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        value |= bits.checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{intake, someone};
    use crate::{Action, Role, Timestamp, WorkOrderDocument, WorkOrderId};

    #[test]
    fn a_save_and_the_changes_after_it_are_counted() {
        let (tech, office) = (someone(Role::Technician), someone(Role::Dispatcher));
        let now = Timestamp(1_700_000_000_000);
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, now)
                .expect("create");
        let mut bytes = doc.save();
        assert_eq!(count_chunks(&bytes), Some(1));
        for action in [Action::Accept, Action::StartTravel, Action::Arrive] {
            let (_, change) = doc.act(&action, &tech, now).expect("act");
            bytes.extend_from_slice(&change.bytes);
        }
        assert_eq!(count_chunks(&bytes), Some(4));
        // The concatenation is the document.
        let loaded = WorkOrderDocument::load(&bytes).expect("load");
        assert_eq!(loaded.read().expect("read"), doc.read().expect("read"));
        assert_eq!(count_chunks(&[]), Some(0));
    }

    #[test]
    fn bytes_that_are_not_whole_chunks_are_not_counted() {
        let (tech, office) = (someone(Role::Technician), someone(Role::Dispatcher));
        let (mut doc, _, _) =
            WorkOrderDocument::create(WorkOrderId::new(), intake(tech.user), &office, Timestamp(1))
                .expect("create");
        let bytes = doc.save();
        assert_eq!(count_chunks(&bytes[..bytes.len() - 1]), None);
        assert_eq!(count_chunks(&bytes[1..]), None);
        assert_eq!(
            count_chunks(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0xff]),
            None
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(count_chunks(&longer), None);
    }
}
