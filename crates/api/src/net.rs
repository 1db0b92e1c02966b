//! IPv4 CIDR blocks: parsing, splitting a cluster CIDR into per-node pod CIDRs (as
//! kube-controller-manager's node IPAM does, `--node-cidr-mask-size` 24 by default), and the
//! addresses inside a block. Pod CIDRs (kubelet, `berth server --pod-cidr`) and the Service
//! range (apiserver's allocator) are both built on [`Ipv4Cidr`].

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 block such as `10.244.0.0/16`; the address is masked to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    base: u32,
    prefix: u8,
}

/// A CIDR that does not parse, or cannot be split as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad CIDR {cidr:?}: {reason}")]
pub struct CidrError {
    /// The CIDR given.
    pub cidr: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Ipv4Cidr {
    /// The block of `address/prefix`, the address masked to the prefix (`prefix` ≤ 32).
    pub const fn new(address: Ipv4Addr, prefix: u8) -> Ipv4Cidr {
        Ipv4Cidr { base: address.to_bits() & mask(prefix), prefix }
    }

    /// Parses `a.b.c.d/n`.
    pub fn parse(text: &str) -> Result<Ipv4Cidr, CidrError> {
        let error = |reason: &str| CidrError { cidr: text.to_owned(), reason: reason.to_owned() };
        let (address, prefix) = text.split_once('/').ok_or_else(|| error("no /prefix"))?;
        let address: Ipv4Addr =
            address.parse().map_err(|_| error("not an IPv4 address (only IPv4 is supported)"))?;
        let prefix: u8 = prefix.parse().map_err(|_| error("the prefix is not a number"))?;
        if prefix > 32 {
            return Err(error("the prefix is longer than 32"));
        }
        Ok(Ipv4Cidr::new(address, prefix))
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// How many addresses the block holds.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The `index`th address of the block (0 is the network address), if inside it.
    pub fn address(self, index: u64) -> Option<Ipv4Addr> {
        (index < self.size()).then(|| Ipv4Addr::from(self.base + index as u32))
    }

    /// The index of `ip` in the block (0 is the network address), if the block holds it.
    pub fn index_of(self, ip: Ipv4Addr) -> Option<u64> {
        let offset = u32::from(ip).wrapping_sub(self.base);
        (u64::from(offset) < self.size()).then_some(u64::from(offset))
    }

    /// The `index`th sub-block of length `prefix` (`10.244.0.0/16`, 24, 3 → `10.244.3.0/24`).
    pub fn subnet(self, prefix: u8, index: u64) -> Result<Ipv4Cidr, CidrError> {
        let error = |reason: String| CidrError { cidr: self.to_string(), reason };
        if prefix < self.prefix || prefix > 32 {
            return Err(error(format!("cannot split into /{prefix} blocks")));
        }
        let count = 1u64 << (prefix - self.prefix);
        if index >= count {
            return Err(error(format!("holds {count} /{prefix} blocks, not {}", index + 1)));
        }
        let step = 1u64 << (32 - u32::from(prefix));
        Ok(Ipv4Cidr { base: self.base + (index * step) as u32, prefix })
    }
}

const fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// The pod CIDR of node `index` in `cluster_cidr`: its `index`th /24 (or, for clusters smaller
/// than a /24, the whole block for node 0).
pub fn node_pod_cidr(cluster_cidr: &str, index: usize) -> Result<String, CidrError> {
    let cluster = Ipv4Cidr::parse(cluster_cidr)?;
    let prefix = cluster.prefix().max(24);
    Ok(cluster.subnet(prefix, index as u64)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_pod_cidrs_split_the_cluster_cidr() {
        let cases = [
            ("10.244.0.0/16", 0, Ok("10.244.0.0/24")),
            ("10.244.0.0/16", 3, Ok("10.244.3.0/24")),
            ("10.244.0.0/16", 255, Ok("10.244.255.0/24")),
            ("10.244.7.9/16", 1, Ok("10.244.1.0/24")),
            ("10.0.0.0/8", 256, Ok("10.1.0.0/24")),
            ("192.168.1.0/24", 0, Ok("192.168.1.0/24")),
            ("192.168.1.0/26", 0, Ok("192.168.1.0/26")),
            ("10.244.0.0/16", 256, Err("holds 256 /24 blocks, not 257")),
            ("10.244.0.0", 0, Err("no /prefix")),
            ("fd00::/64", 0, Err("not an IPv4 address (only IPv4 is supported)")),
            ("10.0.0.0/33", 0, Err("the prefix is longer than 32")),
        ];
        for (cluster, index, want) in cases {
            let got = node_pod_cidr(cluster, index).map_err(|e| e.reason);
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{cluster} #{index}");
        }
    }

    #[test]
    fn addresses_stay_inside_the_block() {
        let cidr = Ipv4Cidr::parse("10.244.3.0/24").unwrap();
        assert_eq!(cidr.size(), 256);
        assert_eq!(cidr.address(2), Some(Ipv4Addr::new(10, 244, 3, 2)));
        assert_eq!(cidr.address(255), Some(Ipv4Addr::new(10, 244, 3, 255)));
        assert_eq!(cidr.address(256), None);
    }
}
