//! Bearer tokens: 256 random bits, shown to the client once, stored only as their SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::storage::TokenHash;

/// A new token and the hash to store.
pub fn generate() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let (a, ha) = generate();
        let (b, _) = generate();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a), ha);
        assert_ne!(hash(&b), ha);
    }
}
