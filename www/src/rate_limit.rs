//! The create rate limit: a token bucket per client address.
//!
//! Creating a session needs no credentials, so without a limit one client could fill the store
//! (`--max-sessions`, or the memory budget) in about a hundred seconds and lock every new user out
//! until its sessions expire. Each client address gets a burst and then a steady rate of creates;
//! beyond it a create is answered 429 `ERR_RATE_LIMITED` with `Retry-After`, and other addresses
//! are not affected. IPv6 addresses are limited by their /64 prefix, the smallest block a client
//! is usually given, so one client cannot escape the limit by hopping within its own network.
//!
//! The table is bounded: when a shard holds too many addresses it forgets those whose bucket is
//! full again (they have not created anything for a while), and if that is not enough, all of its
//! addresses. Behind a reverse proxy every client shares the proxy's address: raise
//! `--create-rate` there, or set it to the proxy's capacity.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

const SHARDS: usize = 16;

/// How many addresses each shard tracks before it forgets idle ones.
pub const TRACKED_PER_SHARD: usize = 4096;

/// Settings of a rate limit: a burst, then a steady rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// How many at once.
    pub burst: u32,
    /// How many per second after that, on average.
    pub per_second: f64,
}

impl Default for RateLimit {
    /// 20 creates at once, then one every second, per client address: far more than any page
    /// needs, far less than a flood.
    fn default() -> Self {
        Self { burst: 20, per_second: 1.0 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was computed, in milliseconds since the Unix epoch.
    at: u64,
}

/// Token buckets by client address; see the [module documentation](self).
#[derive(Debug)]
pub struct AddressLimiter {
    limit: RateLimit,
    shards: Box<[Mutex<HashMap<u128, Bucket>>]>,
}

impl AddressLimiter {
    /// A limiter with no address known yet.
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }

    /// Takes a token for `address` at `now` (milliseconds since the Unix epoch), or says how long
    /// until the next one.
    pub fn take(&self, address: IpAddr, now: u64) -> Result<(), Duration> {
        let key = key_of(address);
        let burst = f64::from(self.limit.burst.max(1));
        let per_ms = self.limit.per_second / 1000.0;
        let mut shard = self.shards[(key % SHARDS as u128) as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= TRACKED_PER_SHARD && !shard.contains_key(&key) {
            shard.retain(|_, bucket| refilled(*bucket, now, per_ms, burst) < burst);
            if shard.len() >= TRACKED_PER_SHARD {
                shard.clear();
            }
        }
        let bucket = shard.entry(key).or_insert(Bucket { tokens: burst, at: now });
        let tokens = refilled(*bucket, now, per_ms, burst);
        if tokens < 1.0 {
            let wait_ms = (1.0 - tokens) / per_ms;
            return Err(Duration::try_from_secs_f64(wait_ms / 1000.0).unwrap_or(Duration::MAX));
        }
        *bucket = Bucket { tokens: tokens - 1.0, at: now.max(bucket.at) };
        Ok(())
    }
}

fn refilled(bucket: Bucket, now: u64, per_ms: f64, burst: f64) -> f64 {
    (bucket.tokens + now.saturating_sub(bucket.at) as f64 * per_ms).min(burst)
}

/// The limited unit of an address: the address itself for IPv4, its /64 for IPv6.
fn key_of(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | 1 << 32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let limiter = AddressLimiter::new(RateLimit { burst: 3, per_second: 2.0 });
        for _ in 0..3 {
            assert!(limiter.take(ip("10.0.0.1"), T0).is_ok());
        }
        assert_eq!(limiter.take(ip("10.0.0.1"), T0), Err(Duration::from_millis(500)));
        assert!(limiter.take(ip("10.0.0.2"), T0).is_ok(), "another address is not affected");
        assert!(limiter.take(ip("10.0.0.1"), T0 + 499).is_err());
        assert!(limiter.take(ip("10.0.0.1"), T0 + 500).is_ok());
    }

    #[test]
    fn ipv6_is_limited_by_its_64_prefix() {
        let limiter = AddressLimiter::new(RateLimit { burst: 1, per_second: 0.001 });
        assert!(limiter.take(ip("2001:db8:1:2::1"), T0).is_ok());
        assert!(limiter.take(ip("2001:db8:1:2:ffff::9"), T0).is_err(), "same /64");
        assert!(limiter.take(ip("2001:db8:1:3::1"), T0).is_ok(), "another /64");
        assert!(limiter.take(ip("::ffff:10.0.0.1"), T0).is_ok());
        assert!(limiter.take(ip("10.0.0.1"), T0).is_err(), "a mapped address is the IPv4 one");
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = AddressLimiter::new(RateLimit { burst: 1, per_second: 1.0 });
        for n in 0..(SHARDS * TRACKED_PER_SHARD * 2) as u32 {
            let _ = limiter.take(IpAddr::from(n.to_be_bytes()), T0);
        }
        for shard in &limiter.shards {
            assert!(shard.lock().unwrap().len() <= TRACKED_PER_SHARD);
        }
    }
}
