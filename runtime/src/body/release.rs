//! Following a body's bytes to the socket: large frames handed on in bounded slices, and the
//! last bytes carrying the delivery record so that the blocks fire only once the connection
//! has let go of them.
//!
//! Both work on `Bytes` data (axum's, hyper's `Full<Bytes>`, tonic's), found by a type check
//! that costs nothing; other data types are forwarded as they are.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::delivery::{DeliveryRecord, DeliveryStage};

/// The largest data frame handed to the connection at once. A connection takes a frame whole
/// into its write buffer, and polls for the next one only when that buffer has room, so a body
/// that ends is known to have reached the socket within its last slice plus the connection's
/// own write buffer (hyper: `max_buf_size`, about 400 KiB by default, on HTTP/1;
/// `max_send_buf_size`, 400 KiB by default, on HTTP/2).
pub(crate) const SLICE: usize = 64 * 1024;

/// `data` as `Bytes`, when that is what it is.
#[inline]
pub(crate) fn as_bytes<D: 'static>(data: &mut D) -> Option<&mut Bytes> {
    (data as &mut dyn Any).downcast_mut::<Bytes>()
}

/// `bytes` as the body's data type `D`, when `D` is `Bytes`.
#[inline]
pub(crate) fn into_data<D: 'static>(bytes: Bytes) -> Option<D> {
    let mut slot = Some(bytes);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<D>>()
        .and_then(Option::take)
}

/// Cuts the first slice off `rest` (zero-copy: both share `rest`'s buffer).
#[inline]
pub(crate) fn next_slice(rest: &mut Bytes) -> Bytes {
    if rest.len() > SLICE {
        rest.split_to(SLICE)
    } else {
        std::mem::take(rest)
    }
}

/// Where a body keeps its delivery record: in the body until bytes that may be the last are
/// handed on, then shared with those bytes, so that the record (and with it the batch) is
/// dropped by whichever of the body and the connection lets go last; or, when the body has
/// ended for good, given to its last bytes outright.
pub(crate) enum RecordSlot {
    Inline(DeliveryRecord),
    Shared(Arc<Mutex<DeliveryRecord>>),
    /// The body ended (`is_end_stream` after its last data) and its record went with its last
    /// bytes: nothing the body does later can change the outcome.
    HandedOff {
        body_bytes: u64,
    },
    /// Only while moving out of `Inline`.
    Moving,
}

impl RecordSlot {
    #[inline]
    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut DeliveryRecord) -> R) -> R {
        match self {
            Self::Inline(record) => f(record),
            Self::Shared(shared) => f(&mut lock(shared)),
            Self::HandedOff { .. } | Self::Moving => {
                unreachable!("a handed-off record is not touched again")
            }
        }
    }

    #[inline]
    pub(crate) fn is_handed_off(&self) -> bool {
        matches!(self, Self::HandedOff { .. })
    }

    /// `(body_bytes, complete)`, for `Debug`.
    pub(crate) fn progress(&self) -> (u64, bool) {
        match self {
            Self::HandedOff { body_bytes } => (*body_bytes, true),
            _ => self.read(|record| (record.body_bytes, record.is_complete())),
        }
    }

    #[inline]
    fn read<R>(&self, f: impl FnOnce(&DeliveryRecord) -> R) -> R {
        match self {
            Self::Inline(record) => f(record),
            Self::Shared(shared) => f(&lock(shared)),
            Self::HandedOff { .. } | Self::Moving => {
                unreachable!("read only inline or shared")
            }
        }
    }

    /// `true` once the body is known to have ended (`None` seen, or handed off at its end).
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.is_handed_off() || self.read(|record| record.stage == DeliveryStage::Finished)
    }

    /// The body's last bytes, `bytes`, given the record outright (one allocation, no lock):
    /// the blocks fire when the connection drops them. Shared instead if already shared.
    pub(crate) fn hand_off_with(&mut self, bytes: Bytes) -> Bytes {
        if !matches!(self, Self::Inline(_)) {
            return self.attach_to(bytes);
        }
        let Self::Inline(record) = std::mem::replace(self, Self::Moving) else {
            unreachable!("checked inline above")
        };
        *self = Self::HandedOff {
            body_bytes: record.body_bytes,
        };
        Bytes::from_owner(LastBytes {
            bytes,
            _record: record,
        })
    }

    /// `bytes`, holding a share of the record: the connection drops them once it has written
    /// them (or when it closes), and the blocks cannot fire before that.
    pub(crate) fn attach_to(&mut self, bytes: Bytes) -> Bytes {
        if let Self::Inline(_) = self {
            let Self::Inline(record) = std::mem::replace(self, Self::Moving) else {
                unreachable!("checked inline above")
            };
            *self = Self::Shared(Arc::new(Mutex::new(record)));
        }
        let Self::Shared(shared) = self else {
            unreachable!("made shared above")
        };
        Bytes::from_owner(LastBytes {
            bytes,
            _record: Arc::clone(shared),
        })
    }
}

fn lock(shared: &Mutex<DeliveryRecord>) -> MutexGuard<'_, DeliveryRecord> {
    // No user code runs under this lock: a poisoned lock still holds consistent data.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A body's last bytes with its delivery record (`DeliveryRecord`) or a share of it.
struct LastBytes<R> {
    bytes: Bytes,
    _record: R,
}

impl<R> AsRef<[u8]> for LastBytes<R> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}
