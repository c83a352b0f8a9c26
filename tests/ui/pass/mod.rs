//! The pass corpus: handler shapes that must compile unchanged under `#[after_response]`,
//! warning-free, in both editions, and answer a real request. Each module has its handlers, a
//! `router()`, the `checks()` sent to it, and the `MARKS` its deferred blocks leave.

/// One module per group of shapes, and one test per module.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {$(
        pub mod $case;

        #[test]
        fn $case() {
            crate::support::run($case::router(), &$case::MARKS, &$case::checks());
        }
    )*};
}

cases! {
    extractors,
    returns,
    streams,
    errors,
    bodies,
    positions,
    diverging,
    generics,
    middleware,
    attributes,
    forms,
}
