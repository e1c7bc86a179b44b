//! SANDBOX-ONLY TEST KEYS. These RSA-2048 key pairs were generated for Overture's PAYMENTSOFT
//! simulator with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and
//! `openssl pkey -pubout`. They are public (they are in the source tree), protect nothing, and
//! must never be configured for a real Payment Soft account.

/// Sandbox-only: the private key a PSP account uses against the sandbox (`oauth_private_key`,
/// PKCS#8 PEM). Public knowledge; never use it outside the sandbox.
pub const SANDBOX_OAUTH_PRIVATE_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD43O8/8XMgR36a
w9JkWuTiD/ncFSElKc9xmRU9PX4qgayDJhobspU7r0WzUgniM4cW8onlY1Ux22a+
a9XxIhQMz3yRImqMwBJAiRQXFjv+ljt66TDXcHXZ4Vgf286Qo2ljPlCfzFSW4u/X
wd1rMubGM04RG47v/h3h9hIVWQH+cfH+QoXrG5kmtfFM32agZcQtfKTYd8R5cOe8
3/uW6dC4cMsrVYy2++WjW0Ygu5sqpH09UPxTABrrreGln2z7AWdEsTa+CU0f8fD7
spcJqDRncFlSTCTFqyfIdYLyTHxHckiYNFFTBplt31Tn9qESit9X2qVd7jge4pWC
i2KCErYXAgMBAAECggEAHf6rC37zjFFxrf+qLRRTf/fC+sbFLvCCI0P7Ll1qBn+I
pmoCPZJhsEbo1Lsvm8bwIlDrU+2MCC1UjeD7cUvVNNIRRoDqbLp9uK+M71drtbyv
wJm4nE7etXsWnwhkNkSr4B1TpF8BVwpVNCEWqeQBsqPeZet3Z++t9F0vQslulxcx
5U86eu8ve0eZ6aFGezs+MLzEdVeVcGOtd3GnjEZwm/LB9k0MReZ02nCHw4yJDErz
/Ri5PIz/PCLvgp7k269RPt5laFqmQN1/xldWjlWtZVchPtFZvAp5GTfjYr2AWqke
otPIOr+yqR0pHfS48qr7fhvakG/HGEPDxdxncxFa4QKBgQD/ZaHn3ZeYMl8P8l24
ITCiVChoKYsQs/gcqrOd8pQmDc1hPusaTipr9aZ/K3LIfUQhRG8W44krQ5Jjv0Ud
S3FQgFzYdcuKjh4JnMwpL8z+F3p+AaUpTjGSOJOyVAE+lntH5xfLKbIMqzgHn8BT
fgNouyVNa0Nvnb3sBKbO/V45BwKBgQD5c1pUJ5Vcj2HUDuwcFpmFq3iw5iYCPB42
3CSvYVAYlftXvXRgv4WEJmr5lCT90cWYrEbGcX+xjm8N1+Kb1B1c3KXmmm3V5rci
2MFCVgponF05E5L3yrHoJo1/xP5+NnFevrWwHTYrT+YBkgufkA8XKgiUtKhFPvff
E4UvnjemcQKBgHdaZJ56BRVAPQKzzi51fEfwMm3zNCUbJdEnyQcATVG3U4qln7NM
YjDPvP5jLKIbQFKXq56zuO+6BViOE1uMXSk0w6745aUbo1f0qch5qT/5cuoeFLRH
8YyW2hcVgPth0b0ZdxofozCed3HAq12ZXzh7dQRII1yvCAmbZuUGrRjTAoGBANo/
NYmpdEGeZS4+vA87KqjLxHWpdxm/dYP0Cdiz4HsSReyXIoo/JtbfMfsYxWCZNzOD
jwyyYtF7V+iZuHc0F1iW6EOhW3WpPROs5zFdzA+ItvtoB87qtcryaBygwzSz9264
lof2lt1AM3GuUKMTTFCtAwLwKMUk+YNgNcfaur/RAoGAXh3SPSTzJFaTv+2QJx7o
luy0Ka0TSAXjOMXoNqTp5UGdU5/pbtMC/A1sCUATSmUOiiT4K5zebjCeh5dEY0gd
qBhl/DaEsdnQATT5kO2hqyemv7H0gX7VCx5ZLMUzv/TGM+ITl8rCoaFd/ZS6otFN
EESsf239znw6SiYdv5ybDKk=
-----END PRIVATE KEY-----
";

/// Sandbox-only: the public half the sandbox verifies OAuth signatures with.
pub const SANDBOX_OAUTH_PUBLIC_KEY: &str = "\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+NzvP/FzIEd+msPSZFrk
4g/53BUhJSnPcZkVPT1+KoGsgyYaG7KVO69Fs1IJ4jOHFvKJ5WNVMdtmvmvV8SIU
DM98kSJqjMASQIkUFxY7/pY7eukw13B12eFYH9vOkKNpYz5Qn8xUluLv18HdazLm
xjNOERuO7/4d4fYSFVkB/nHx/kKF6xuZJrXxTN9moGXELXyk2HfEeXDnvN/7lunQ
uHDLK1WMtvvlo1tGILubKqR9PVD8UwAa663hpZ9s+wFnRLE2vglNH/Hw+7KXCag0
Z3BZUkwkxasnyHWC8kx8R3JImDRRUwaZbd9U5/ahEorfV9qlXe44HuKVgotighK2
FwIDAQAB
-----END PUBLIC KEY-----
";

/// Sandbox-only: an unrelated private key, for tests that prove a wrong key is refused.
#[cfg(test)]
pub const OTHER_PRIVATE_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCZsC6PoffIvwXs
4ud7A7sGL/GEx4zAg+8SWj6KVdvsDzNyT6HiyyXsl4StBBMOF7Xv4S4Co42JiGjI
48SIZKFyFjeSMHdlgIbN1h8FlGdnjX8hDbI+HCR9hxU94GBpixHQ4vG3L3OURUXz
iPkMKBeVTQI9UYHgVkWRaN7MIU2t8ril5Ywf9IkQrzGOQtYe6tUiGnCxJEajKh9r
IKaWK7dbGgN389N3xOvlMqheT67ZBSRtyQyqogFJCPhT1lc7wC50cLqIIlHj8VjR
zKVwPpYLAmpSDs0N+OUqngyOhjHxwsKv9ZRYap4ipsSVBeRlsSfWo589MA2s0Tya
uhBNRNtBAgMBAAECggEAIUH08XQVUMW1nIuFmCM4h6A8XYVpOgfS5l/NBNaLnsuz
UFtXJuLbNBWdymsFTJlo754E/OEzsb1pH3/aecF9Blk0cVg3nilwAn8Be42fytLd
3eM+3R3t75QZzqgNdQl5M4DI2eFU25MaDhdn/W93mwFtKKPIvSkuKMdO31Gdo7R6
lHPWqlm+ro1ThcRf6OvEETPkEmtaDNG7jOid+qY8qg3YyOXsF6/DgLi0VD9vYowS
o1BaVG0Gk+yyIc6NckZ3wc00N0DLgVH+JsD3fDo7PXC39zsKqBNHUFR4f1rfYpQi
9xegOlFQlWti4e6Fsj3qqb0kZPCf15HrVRDLXr+QeQKBgQDV/gdTBNVFG284NHtI
c/NP8NH957jWPQcSQ/NBN+sc14ple21R6K2XcdaMafYowClu7zT/oRJX1RglpalH
1ztIHAidrKbKLOwaZa/XuZ7w+21FOBXdnC6uTi9Rjeo+ETJ3/S70t2uYmeVgmyFX
daWfx+hRz6Gv3FxoP/fHMnv+gwKBgQC326GD5/VClK03tyQyfJTfGvkAMXCzlPcb
w0egTM+nCTzkX0B8ecHkDlemURBsdwW13dV5cBpP3c4guVr1mc6xIEAluu+xaShF
vNEOmngWI3nBED4lJO4ApIzlmyM2v4nyMJ38H51QJNyIqw54x2asRjAgXv0T1mri
mNotYu+T6wKBgBUC+28gY1yExBftt0k28WYhDE11CkYm+eHGQEVgGzrawyERzHsl
cJ4VNG7XHK+FpsvYuwh6pVVwfA1+Ra/jJ1P+RK5OvJXPcWNqJqj09fFNjr4kMqlu
43qD/MtyNtTfVWhIuOqYc/0o50fkE5MF3zxgIaSe0Y52AbDOzyKFB33HAoGBAInh
T9MYFToFPZHW6nJiM1LNa4bVjOtf/6D2ZbS1ZdSifOPW+wleViWtC9ZSXLq617F3
1yvnAhR7BqZL2wbsfbEfunuRIUgu0GDcJPuKpBwWJqy+fZxlgYdB39gg69uW8OCL
zS7SlqsPucNUZNn2z+zKBjWAhtJlrmqYrqXy2DBZAoGAd6URtNTGKSjxYcQ1D7TF
fSr6vqHm7YCX12/jNiBIaPbt8h6DgjFZHy9JRKtTaxia1tW5jeTWtjje8C/RLe4f
PsgharEBo6G0PTHzQYHgSM4nJWTEpC7MEflXXKss+mtqB2bQ9Lx39c5guEYGZNLf
j8FLcFOMZDorzRPRmH7Yar8=
-----END PRIVATE KEY-----
";

#[cfg(test)]
mod tests {
    use super::*;
    use overture_connectors::paymentsoft::oauth;

    /// The base string of the `oauth` module's fixed-vector test, signed outside Rust with
    /// `printf '%s' "$BASE" | openssl dgst -sha256 -sign priv.pem | base64 -w0`.
    const BASE: &str = "POST&https%3A%2F%2Fgate.example%2Fpaynet%2Fapi%2Fv4%2Fpayout%2F4201&\
        amount%3D10.00%26client_orderid%3Dtxn_1%26oauth_consumer_key%3Dmerchant-login\
        %26oauth_nonce%3Dn0nce%26oauth_signature_method%3DRSA-SHA256\
        %26oauth_timestamp%3D1700000000%26oauth_version%3D1.0%26order_desc%3DPayout%25201";
    const OPENSSL_SIGNATURE: &str = "E2UxMnQ5amYlK492J+b2PIFUP+VpHArJG4+Tf61H1H4V93IYKeYSVSZMRmDd+sY7alkbdaKBO7Yvb1DVUG9aMEevxgQ5j+zQhyNTtEkHUcrmBiZ3GzGzshyRnQkR3Cf/f7ahrD48PD7NBJ4gRyII1HxEc7NlourDeyH8ZOWDfvG9ZvdFaHwUc5d/eCisdU0cVKcXEOB9LGr5GXCsWCQfSY9U6X/GyuwRwYJVOMhjvVev5/njvKDR18w4sHNCn0gyvB6cjPj09YEBGBGEUGqhS7M9trW/iJFDnefb8RzIAFhsSFXY+cJ9QulVa5XoI8DkBJvPcLYfrSM2RTZjOcnJag==";

    #[test]
    fn rsa_sha256_signature_matches_openssl() {
        let key = oauth::load_private_key(SANDBOX_OAUTH_PRIVATE_KEY).unwrap();
        assert_eq!(oauth::sign(&key, BASE), OPENSSL_SIGNATURE);
        let public = oauth::load_public_key(SANDBOX_OAUTH_PUBLIC_KEY).unwrap();
        assert!(oauth::verify(&public, BASE, OPENSSL_SIGNATURE));
        assert!(!oauth::verify(
            &public,
            &BASE.replace("10.00", "10.01"),
            OPENSSL_SIGNATURE
        ));
        let other = oauth::load_private_key(OTHER_PRIVATE_KEY).unwrap();
        assert!(!oauth::verify(&public, BASE, &oauth::sign(&other, BASE)));
    }
}
