//! OpenAPI schemas (feature `openapi`) of the types whose JSON form is written by hand: the
//! vocabulary words, ids, timestamps and blob hashes. The rest derive `utoipa::ToSchema`.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::attachment::BlobHash;
use crate::time::Timestamp;

/// A string that is one of `words`.
pub(crate) fn word_schema(what: &str, words: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .description(Some(format!("A {what}.")))
        .into()
}

/// A UUID naming one `what`.
pub(crate) fn uuid_schema(what: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .description(Some(format!("A {what} (UUID).")))
        .into()
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some(
                "A point in time in milliseconds since the Unix epoch (UTC).",
            ))
            .examples([1_764_750_000_000_i64])
            .into()
    }
}

impl ToSchema for Timestamp {}

impl PartialSchema for BlobHash {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-f]{64}$"))
            .description(Some(
                "The SHA-256 of a blob's bytes as 64 lowercase hex digits: its content address.",
            ))
            .into()
    }
}

impl ToSchema for BlobHash {}
