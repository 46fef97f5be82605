//! (in progress)

route_table! {}
