//! The attribute's arguments: `#[after_response]` or `#[after_response(crate = "path")]`.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Path, Token};

pub struct Args {
    /// Path of the runtime crate in the user's crate.
    pub krate: Path,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = None;
        while !input.is_empty() {
            if !input.peek(Token![crate]) {
                return Err(unexpected(input));
            }
            let crate_token: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            let path: LitStr = input.parse()?;
            if krate.is_some() {
                return Err(syn::Error::new(crate_token.span, "`crate` is given twice"));
            }
            krate = Some(path.parse::<Path>().map_err(|_| {
                syn::Error::new(
                    path.span(),
                    "`crate` must be a path, such as \"my_crate::after_response\"",
                )
            })?);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(Self {
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::after_response)),
        })
    }
}

/// Names the argument, and points a per-block option to where it belongs.
fn unexpected(input: ParseStream) -> syn::Error {
    let name = input
        .fork()
        .parse::<syn::Ident>()
        .map(|ident| format!(" `{ident}`"))
        .unwrap_or_default();
    let hint = if name == " `timeout`" {
        "; a timeout goes on each block: `defer!(timeout = Duration::from_secs(5) => { .. })`"
    } else {
        ""
    };
    syn::Error::new(
        input.span(),
        format!(
            "unexpected argument{name}: `#[after_response]` takes only `crate = \"path\"`{hint}"
        ),
    )
}

pub fn parse(args: TokenStream) -> syn::Result<Args> {
    syn::parse2(args)
}
