//! Typed text columns: the domain's enums (request states, HubEE statuses, staff roles) are
//! stored as their codes and read back parsed, on SQLite, on PostgreSQL and through
//! [`DbConnection`](super::DbConnection); an unknown code is a deserialization error, never
//! a silent "Inconnu".

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::domain::hubee::SubscriptionStatus;
use crate::domain::request_state::RequestState;
use crate::domain::roles::StaffRole;

/// `ToSql`/`FromSql<Text>` for a type with `as_str` and `FromStr`, on one backend.
macro_rules! text_column_on {
    ($ty:ty, $backend:ty) => {
        impl ToSql<Text, $backend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $backend>) -> serialize::Result {
                <str as ToSql<Text, $backend>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, $backend> for $ty {
            fn from_sql(bytes: <$backend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let code = <String as FromSql<Text, $backend>>::from_sql(bytes)?;
                code.parse::<$ty>().map_err(|e| e.to_string().into())
            }
        }
    };
}

/// A typed text column on both backends and through the connection enum.
macro_rules! text_column {
    ($($ty:ty),*) => {
        $(
            text_column_on!($ty, Sqlite);
            text_column_on!($ty, Pg);
            text_column_on!($ty, MultiBackend);
        )*
    };
}

text_column!(RequestState, SubscriptionStatus, StaffRole);
