use after_response::after_response;

#[after_response]
struct Handler {
    name: String,
}

fn main() {
    let _ = Handler { name: String::new() }.name;
}
