//! How a Cashier API request identified its user, as the payment flows need it: what to forward
//! to the MP's verify-user endpoint, and the profile a verified user token carries.

/// The profile claims of a verified `x-user-token` (Mozarto: `userId`, `email`, `firstName`,
/// `lastName`, `phone`, `countryCode`).
#[derive(Clone, Debug)]
pub struct UserProfile {
    pub user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    /// ISO 3166-1 alpha-2, as the MP sent it.
    pub country_code: String,
}

/// How the request identified its user.
#[derive(Clone, Debug)]
pub enum UserAuth {
    /// A verified `x-user-token`; the raw token is forwarded to the MP's verify-user endpoint.
    Token {
        token: String,
        profile: Box<UserProfile>,
    },
    /// An opaque MP session token (`x-user-authorization`), forwarded as is.
    Session(String),
}

impl UserAuth {
    /// The `Authorization` value to send to the MP's verify-user endpoint.
    pub fn forwarded_authorization(&self) -> String {
        match self {
            Self::Token { token, .. } => format!("Bearer {token}"),
            Self::Session(value) => value.clone(),
        }
    }

    /// The verified profile, when the user came with a token.
    pub fn profile(&self) -> Option<&UserProfile> {
        match self {
            Self::Token { profile, .. } => Some(profile),
            Self::Session(_) => None,
        }
    }
}
