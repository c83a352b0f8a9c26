use after_response::{after_response, defer};

struct Service {
    name: String,
}

impl Service {
    #[after_response]
    async fn handle(&self) -> String {
        defer! {
            println!("{}", self.name);
        }
        self.name.clone()
    }
}

fn main() {
    let _ = Service::handle;
}
