//! A classic BPF program (`SO_ATTACH_FILTER`) that lets only IPv4/UDP frames with one of the
//! protocol's ports (as source or destination) reach user space, untagged or with one 802.1Q
//! tag. Non-first IPv4 fragments are dropped (they carry no UDP header).
//!
//! Filtering in the kernel matters because an `ETH_P_ALL` socket otherwise copies every frame
//! on the link (ARP, IPv6 noise, other protocols) into user space.

/// One classic BPF instruction, `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
const LDH_IND: u16 = 0x48; // BPF_LD | BPF_H | BPF_IND
const LDXB_MSH: u16 = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (pkt[k] & 0xf)
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Bytes of a frame passed to user space on accept: everything up to 256 KiB.
const ACCEPT_LEN: u32 = 0x40000;

/// Most ports one filter may test: keeps every jump offset within the 8-bit jump range.
pub(crate) const MAX_PORTS: usize = 32;

#[derive(Clone, Copy)]
enum To {
    Next,
    Accept,
    Drop,
    Vlan,
}

struct Asm {
    ins: Vec<(u16, To, To, u32)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.ins.push((code, To::Next, To::Next, k));
    }
    fn jmp(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.ins.push((code, jt, jf, k));
    }

    /// The checks for one header layout; `b` is the offset the VLAN tag adds (0 or 4).
    fn block(&mut self, b: u32, ports: &[u16]) {
        self.op(LDH_ABS, 12 + b);
        self.jmp(JEQ_K, 0x0800, To::Next, To::Drop);
        self.op(LDB_ABS, 14 + b + 9);
        self.jmp(JEQ_K, 17, To::Next, To::Drop);
        self.op(LDH_ABS, 14 + b + 6);
        self.jmp(JSET_K, 0x1fff, To::Drop, To::Next);
        if ports.is_empty() {
            self.jmp(RET_K, ACCEPT_LEN, To::Next, To::Next);
            return;
        }
        self.op(LDXB_MSH, 14 + b);
        for field in [0u32, 2] {
            self.op(LDH_IND, 14 + b + field);
            for (i, p) in ports.iter().enumerate() {
                let last = field == 2 && i + 1 == ports.len();
                self.jmp(
                    JEQ_K,
                    u32::from(*p),
                    To::Accept,
                    if last { To::Drop } else { To::Next },
                );
            }
        }
    }
}

/// The filter program for `ports`. Errors if there are more than [`MAX_PORTS`] ports.
pub(crate) fn udp_ports_filter(ports: &[u16]) -> Result<Vec<Insn>, String> {
    if ports.len() > MAX_PORTS {
        return Err(format!(
            "at most {MAX_PORTS} UDP ports can be filtered, got {}",
            ports.len()
        ));
    }
    let mut a = Asm { ins: Vec::new() };
    a.op(LDH_ABS, 12);
    a.jmp(JEQ_K, 0x8100, To::Vlan, To::Next);
    a.block(0, ports);
    let vlan_at = a.ins.len();
    a.block(4, ports);
    let accept_at = a.ins.len();
    a.op(RET_K, ACCEPT_LEN);
    let drop_at = a.ins.len();
    a.op(RET_K, 0);

    let mut out = Vec::with_capacity(a.ins.len());
    for (i, (code, jt, jf, k)) in a.ins.iter().enumerate() {
        let rel = |t: To| -> Result<u8, String> {
            let target = match t {
                To::Next => i + 1,
                To::Accept => accept_at,
                To::Drop => drop_at,
                To::Vlan => vlan_at,
            };
            u8::try_from(target - (i + 1)).map_err(|_| "BPF jump out of range".to_string())
        };
        let is_jump = *code & 0x07 == 0x05;
        out.push(Insn {
            code: *code,
            jt: if is_jump { rel(*jt)? } else { 0 },
            jf: if is_jump { rel(*jf)? } else { 0 },
            k: *k,
        });
    }
    Ok(out)
}

/// A tiny interpreter for the instructions above, so tests can check the program without a
/// kernel. Returns the accept length (0 = drop). Out-of-bounds loads drop, as in the kernel.
#[cfg(test)]
pub(crate) fn run(prog: &[Insn], pkt: &[u8]) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let ld = |off: usize, n: usize| -> Option<u32> {
        let s = pkt.get(off..off.checked_add(n)?)?;
        Some(s.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    };
    while let Some(i) = prog.get(pc) {
        pc += 1;
        match i.code {
            LDH_ABS => match ld(i.k as usize, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            LDB_ABS => match ld(i.k as usize, 1) {
                Some(v) => a = v,
                None => return 0,
            },
            LDH_IND => match ld((x + i.k) as usize, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            LDXB_MSH => match ld(i.k as usize, 1) {
                Some(v) => x = 4 * (v & 0xf),
                None => return 0,
            },
            JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
            JSET_K => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }),
            RET_K => return i.k,
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::frame::{build_frame, FrameDefaults};
    use conform_codec::{Datagram, Meta};

    fn udp(sp: u16, dp: u16) -> Vec<u8> {
        let d = Datagram {
            payload: vec![0; 8],
            meta: Meta {
                src_port: Some(sp),
                dst_port: Some(dp),
                ..Meta::default()
            },
        };
        build_frame(&d, [2; 6], &FrameDefaults::dhcp_client()).unwrap()
    }

    fn tag(f: &[u8]) -> Vec<u8> {
        let mut t = f[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        t.extend_from_slice(&f[12..]);
        t
    }

    #[test]
    fn dhcp_ports_pass_others_drop() {
        let p = udp_ports_filter(&[67, 68]).unwrap();
        assert!(run(&p, &udp(68, 67)) > 0);
        assert!(run(&p, &udp(67, 68)) > 0);
        assert!(run(&p, &udp(67, 67)) > 0);
        assert!(run(&p, &udp(5000, 68)) > 0);
        assert_eq!(run(&p, &udp(53, 5353)), 0);
        assert!(run(&p, &tag(&udp(68, 67))) > 0);
        assert_eq!(run(&p, &tag(&udp(53, 53))), 0);
    }

    #[test]
    fn non_ipv4_non_udp_fragments_and_short_frames_drop() {
        let p = udp_ports_filter(&[53]).unwrap();
        let mut arp = udp(53, 53);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run(&p, &arp), 0);
        let mut tcp = udp(53, 53);
        tcp[14 + 9] = 6;
        assert_eq!(run(&p, &tcp), 0);
        let mut frag = udp(53, 53);
        frag[14 + 6] = 0x00;
        frag[14 + 7] = 0x10;
        assert_eq!(run(&p, &frag), 0);
        assert_eq!(run(&p, &udp(53, 53)[..30]), 0);
        assert_eq!(run(&p, &[]), 0);
    }

    #[test]
    fn ip_options_move_the_udp_header() {
        let p = udp_ports_filter(&[67]).unwrap();
        let f = udp(1000, 67);
        // Insert 4 bytes of IP options (NOPs) and bump IHL from 5 to 6.
        let mut g = f[..34].to_vec();
        g[14] = 0x46;
        g.extend_from_slice(&[1, 1, 1, 1]);
        g.extend_from_slice(&f[34..]);
        assert!(run(&p, &g) > 0);
    }

    #[test]
    fn empty_port_list_accepts_all_udp_and_too_many_ports_error() {
        let p = udp_ports_filter(&[]).unwrap();
        assert!(run(&p, &udp(1, 2)) > 0);
        assert!(udp_ports_filter(&[1; MAX_PORTS + 1]).is_err());
        let big: Vec<u16> = (1..=MAX_PORTS as u16).collect();
        let p = udp_ports_filter(&big).unwrap();
        assert!(run(&p, &udp(9999, MAX_PORTS as u16)) > 0);
    }
}
