//! The `#[after_response]` attribute. Use it through the `after-response` crate, which
//! re-exports it with `defer!` and holds the runtime it expands to.
//!
//! Stages, one file each: `args` (the attribute's arguments), `parse` (the signature; the body
//! stays tokens), `order` (`#[tracing::instrument]` below is moved above), `tokens` (the one
//! finder of `defer!` in the body, with its checks), `defer` (the syntax inside one `defer!`),
//! `register` (what one `defer!` becomes), `return_type` (the declared return type, kept for
//! inference), `expand` (the output).

mod args;
mod defer;
mod expand;
mod order;
mod parse;
mod register;
mod return_type;
mod tokens;

use proc_macro::TokenStream;

/// Rewrites an `async fn` axum handler so that the `defer!` blocks in its body run after its
/// response has been sent. The function then returns `axum::response::Response`.
///
/// It goes on a free `async fn` or an associated one in an `impl` block, generic or not, whose
/// return type implements `IntoResponse`. The body is kept as written: `return`, `?`,
/// `impl IntoResponse`, `Self`, inner attributes and items declared in the body all work as
/// before. `defer!` is found anywhere in the body (branches, loops, closures, async blocks,
/// other macros' input such as `tokio::select!`) except inside nested `fn` items, which are
/// other functions.
///
/// # Arguments
/// `#[after_response(crate = "path::to::after_response")]` when the runtime crate is reached
/// through a re-export; the expansion then names everything through that path.
///
/// # Order with other attributes
/// `#[tracing::instrument]` may go above or below, with any arguments: below, it is moved above
/// and `#[after_response]` applied again under it, so that `ret` and `err` see the handler's
/// own return type. `#[axum::debug_handler]` must go **below** `#[after_response]`: above it,
/// it expands first and copies the body into a check function of its own, where `defer!` is
/// outside any `#[after_response]` (the error says so).
///
/// # Editions
/// The expansion is the same in editions 2021 and 2024, and warning-free in both. A block that
/// diverges (`panic!`, `todo!()`, `loop {}`) evaluates to `!`, which is a valid block output.
///
/// # Errors
/// On anything but an `async fn` the attribute reports one error, on the offending token, and
/// emits the item as written with its `defer!` made inert, so nothing else fails because of
/// it. The body and each block are never parsed by the attribute: they reach the output as
/// written, so a syntax error is rustc's own, on the user's token, and an editor keeps every
/// token of a block being typed. Type errors inside a block (not `Send`, borrowing
/// a local or `self` instead of owning it, not `()` or `Result<(), E: Display>`) point at its
/// `defer!`; a return type that is not `IntoResponse` is reported on the return type. A
/// `defer!` inside the arguments of `spawn`, `spawn_blocking`, `spawn_local` (functions or
/// methods) or `on_upgrade` (it could register after the response left) is rejected with an
/// error that says so; anywhere else a spawned task could reach, the borrow checker rejects it,
/// because the body only borrows the registry. One finder walks the body's tokens, other macros'
/// input included, so a `defer!` inside `vec![..]` gets the same checks as anywhere else.
///
/// # What it expands to
/// This handler:
///
/// ```rust,ignore
/// #[after_response]
/// async fn signup(Json(form): Json<Signup>) -> Result<Json<User>, AppError> {
///     let user = create(form).await?;
///     let email = user.email.clone();
///     defer! {
///         send_welcome(&email).await;
///     }
///     let metrics = defer!(|outcome| {
///         record(outcome.kind());
///     });
///     Ok(Json(user))
/// }
/// ```
///
/// becomes, with the generated locals renamed for reading (the real ones are
/// `Span::mixed_site()` identifiers that user code can neither see nor shadow, except `output`,
/// which carries the return type's span so that errors about it land there, and is bound after
/// the body has run):
///
/// ```rust,ignore
/// async fn signup(Json(form): Json<Signup>) -> ::after_response::__private::Response {
///     // One registry per call, named after the handler for logs and spans.
///     let registry = ::after_response::__private::Registry::new(
///         ::core::concat!(::core::module_path!(), "::", "signup"),
///     );
///     let output = {
///         // The body only borrows it: a `defer!` moved into `tokio::spawn` cannot compile.
///         let registry = &registry;
///         async move {
///             // Fixes the body's type from the declared return type, so `?` and `return`
///             // infer exactly as before. An `impl Trait` becomes `_`, and its bounds are
///             // required of that `_` by a generic function taking the value
///             // (`fn declared_return_type<ImplTrait0: IntoResponse>(_: &ImplTrait0) {}`), so
///             // `Item = ..` bindings still drive inference.
///             if false {
///                 let fake_return: Result<Json<User>, AppError> = loop {};
///                 return fake_return;
///             }
///             // The body's statements, as written (in a block of their own only when they
///             // declare items, which must not change what the return type names).
///             let user = create(form).await?;
///             let email = user.email.clone();
///             // Statement position: the handle is discarded.
///             defer! { @__after_response { registry.defer(async move {
///                 send_welcome(&email).await;
///             }); } }
///             // Expression position: evaluates to the `DeferHandle`.
///             let metrics = defer!(@__after_response registry.defer_always(
///                 move |outcome| async move { record(outcome.kind()); },
///             ));
///             Ok(Json(user))
///         }
///         .await
///     };
///     // `IntoResponse`, then the blocks are attached to the response's body: they fire when
///     // the server drops it.
///     registry.finish(output)
/// }
/// ```
///
/// A handler without `defer!(|outcome| ..)` gets `Registry::untimed` instead of `Registry::new`:
/// only that form reads `Outcome::elapsed()`, so the registry then reads no clock.
///
/// `defer!(@__after_response ..)` expands to the expression it is given; the user's own path
/// to `defer` is kept, so their `use after_response::defer;` stays used. With a timeout,
/// `defer!(timeout = d => ..)` registers the same way, then calls `set_timeout(d)` on the
/// handle. A handler without `defer!` gets no registry: its output is converted with
/// `IntoResponse::into_response` and nothing else.
#[proc_macro_attribute]
pub fn after_response(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::after_response(&args.into(), item.into()).into()
}
