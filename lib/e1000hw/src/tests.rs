//! The rings against a model of the device: a transmitter that sends from
//! TDH up to TDT when told to (at the pace a test chooses: a slow wire), a
//! receiver that fills from RDH up to RDT.
use super::*;

struct Ring<D>(Vec<D>);

impl<D: Copy> Descs<D> for Ring<D> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read(&self, i: usize) -> D {
        self.0[i]
    }
    fn write(&mut self, i: usize, d: D) {
        self.0[i] = d;
    }
}

/// The device's transmit side: TDH, TDT, and the frames it sent (each
/// buffer holds one byte pattern in the model: its first byte).
struct TxModel {
    ring: Ring<TxDesc>,
    bufs: Vec<Vec<u8>>,
    tdh: usize,
    tdt: usize,
    wire: Vec<Vec<u8>>,
}

impl TxModel {
    fn new(n: usize) -> TxModel {
        let mut ring = Ring(vec![TxDesc::default(); n]);
        let tdt = TxRing::init(&mut ring, |i| 0x1000 * i as u64) as usize;
        TxModel {
            ring,
            bufs: vec![vec![0; BUF_SIZE]; n],
            tdh: 0,
            tdt,
            wire: Vec::new(),
        }
    }

    /// Sends at most `max` descriptors (the wire's pace).
    fn run(&mut self, max: usize) {
        for _ in 0..max {
            if self.tdh == self.tdt {
                return;
            }
            let d = &mut self.ring.0[self.tdh];
            assert_eq!(d.cmd & TXD_CMD_EOP, TXD_CMD_EOP);
            assert_eq!(d.addr, 0x1000 * self.tdh as u64, "buffer address changed");
            self.wire
                .push(self.bufs[self.tdh][..usize::from(d.length)].to_vec());
            if d.cmd & TXD_CMD_RS != 0 {
                d.status |= TXD_STAT_DD;
            }
            self.tdh = (self.tdh + 1) % self.ring.0.len();
        }
    }
}

/// Transmits frame `f` as the driver does; Err as TxRing says.
fn transmit(m: &mut TxModel, tx: &mut TxRing, f: &[u8]) -> Result<(), TxError> {
    let slot = tx.reserve(&m.ring, f.len())?;
    m.bufs[slot][..f.len()].copy_from_slice(f);
    m.tdt = tx.commit(&mut m.ring, f.len()) as usize;
    Ok(())
}

fn frame(i: usize) -> Vec<u8> {
    let len = 60 + (i * 37) % (MAX_FRAME - 59);
    (0..len).map(|j| (i + j) as u8).collect()
}

#[test]
fn tx_full_ring_pushes_back_and_loses_nothing() {
    let mut m = TxModel::new(8);
    let mut tx = TxRing::new();
    let mut sent = 0;
    let mut refusals = 0;
    // A sender much faster than the wire: 1 descriptor per 3 tries.
    let mut tries = 0;
    while sent < 100 {
        match transmit(&mut m, &mut tx, &frame(sent)) {
            Ok(()) => sent += 1,
            Err(TxError::Full) => refusals += 1,
            Err(e) => panic!("{e:?}"),
        }
        tries += 1;
        if tries % 3 == 0 {
            m.run(1);
        }
    }
    m.run(usize::MAX);
    assert!(
        refusals > 0,
        "the ring never filled: the test tests nothing"
    );
    assert_eq!(m.wire.len(), 100);
    for (i, f) in m.wire.iter().enumerate() {
        assert_eq!(*f, frame(i), "frame {i} differs");
    }
    assert_eq!(tx.in_flight(&m.ring), 0);
}

#[test]
fn tx_full_when_the_device_never_sends() {
    let mut m = TxModel::new(8);
    let mut tx = TxRing::new();
    // n - 1 frames fill a ring of n (n would make TDT equal TDH, an empty
    // ring to the device); the model device never runs meanwhile.
    for i in 0..7 {
        transmit(&mut m, &mut tx, &frame(i)).unwrap();
    }
    assert_eq!(transmit(&mut m, &mut tx, &frame(7)), Err(TxError::Full));
    assert_eq!(tx.in_flight(&m.ring), 7);
    m.run(1);
    transmit(&mut m, &mut tx, &frame(7)).unwrap();
    m.run(usize::MAX);
    assert_eq!(m.wire, (0..8).map(frame).collect::<Vec<_>>());
}

#[test]
fn tx_lengths() {
    let mut m = TxModel::new(8);
    let mut tx = TxRing::new();
    assert_eq!(transmit(&mut m, &mut tx, &[]), Err(TxError::BadLength));
    assert_eq!(
        transmit(&mut m, &mut tx, &vec![0; MAX_FRAME + 1]),
        Err(TxError::BadLength)
    );
    transmit(&mut m, &mut tx, &[7]).unwrap();
    transmit(&mut m, &mut tx, &vec![9; MAX_FRAME]).unwrap();
    m.run(usize::MAX);
    assert_eq!(m.wire, vec![vec![7], vec![9; MAX_FRAME]]);
}

/// The device's receive side.
struct RxModel {
    ring: Ring<RxDesc>,
    bufs: Vec<Vec<u8>>,
    rdh: usize,
    rdt: usize,
    dropped: usize,
}

impl RxModel {
    fn new(n: usize) -> RxModel {
        let mut ring = Ring(vec![RxDesc::default(); n]);
        let rdt = RxRing::init(&mut ring, |i| 0x1000 * i as u64) as usize;
        RxModel {
            ring,
            bufs: vec![vec![0; BUF_SIZE]; n],
            rdh: 0,
            rdt,
            dropped: 0,
        }
    }

    /// The device receives `f`, in pieces of BUF_SIZE (as without LPE it
    /// would not, but a device may), with `errors`; a frame that finds no
    /// free descriptor is dropped (RXO).
    fn deliver(&mut self, f: &[u8], errors: u8) {
        let pieces: Vec<&[u8]> = if f.is_empty() {
            vec![f]
        } else {
            f.chunks(BUF_SIZE).collect()
        };
        let n = self.ring.0.len();
        let free = (self.rdt + n - self.rdh) % n;
        if pieces.len() > free {
            self.dropped += 1;
            return;
        }
        for (k, p) in pieces.iter().enumerate() {
            let d = &mut self.ring.0[self.rdh];
            assert_eq!(d.status, 0, "device given a slot still full");
            self.bufs[self.rdh][..p.len()].copy_from_slice(p);
            d.length = p.len() as u16;
            d.errors = errors;
            d.status = RXD_STAT_DD
                | if k + 1 == pieces.len() {
                    RXD_STAT_EOP
                } else {
                    0
                };
            self.rdh = (self.rdh + 1) % n;
        }
    }
}

/// Receives as the driver does: the next good frame, dropping bad slots.
fn receive(m: &mut RxModel, rx: &mut RxRing) -> Option<Vec<u8>> {
    loop {
        match rx.peek(&m.ring)? {
            RxSlot::Frame { slot, len } => {
                let f = m.bufs[slot][..len].to_vec();
                m.rdt = rx.release(&mut m.ring) as usize;
                return Some(f);
            }
            RxSlot::Drop { .. } => m.rdt = rx.release(&mut m.ring) as usize,
        }
    }
}

#[test]
fn rx_in_order_and_whole() {
    let mut m = RxModel::new(8);
    let mut rx = RxRing::new();
    assert_eq!(receive(&mut m, &mut rx), None);
    let mut got = Vec::new();
    for i in 0..100 {
        m.deliver(&frame(i), 0);
        if i % 2 == 1 {
            while let Some(f) = receive(&mut m, &mut rx) {
                got.push(f);
            }
        }
    }
    assert_eq!(m.dropped, 0);
    assert_eq!(got, (0..100).map(frame).collect::<Vec<_>>());
}

#[test]
fn rx_full_ring_drops_at_the_device_not_in_the_ring() {
    let mut m = RxModel::new(8);
    let mut rx = RxRing::new();
    for i in 0..10 {
        m.deliver(&frame(i), 0);
    }
    // RDT is one behind: 7 slots of 8 hold frames.
    assert_eq!(m.dropped, 3);
    let got: Vec<_> = core::iter::from_fn(|| receive(&mut m, &mut rx)).collect();
    assert_eq!(got, (0..7).map(frame).collect::<Vec<_>>());
    m.deliver(&frame(50), 0);
    assert_eq!(receive(&mut m, &mut rx), Some(frame(50)));
}

#[test]
fn rx_drops_bad_empty_and_long_frames() {
    let mut m = RxModel::new(16);
    let mut rx = RxRing::new();
    m.deliver(&frame(1), 0);
    m.deliver(&frame(2), 0x80); // RXE: an error
    m.deliver(&[], 0); // empty
    m.deliver(&vec![5; BUF_SIZE * 2 + 10], 0); // in three pieces
    m.deliver(&vec![6; MAX_FRAME + 1], 0); // one piece, too long
    m.deliver(&frame(3), 0);
    let got: Vec<_> = core::iter::from_fn(|| receive(&mut m, &mut rx)).collect();
    assert_eq!(got, vec![frame(1), frame(3)]);
}

#[test]
fn registers_values() {
    assert_eq!(TCTL_INIT, 0x0004_010A);
    assert_eq!(TIPG_INIT, 0x0060_200A);
    assert_eq!(RCTL_INIT, 0x0400_8002);
}
