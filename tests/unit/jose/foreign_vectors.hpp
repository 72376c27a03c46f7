// Tokens signed, and their keys published, by an independent JOSE implementation (the npm
// package jose 6, which oidc-provider uses): what tollgate verifies must be what others sign.
// Each token's payload is {"iss":"https://idp.example","sub":"alice"}; its kid names its algorithm.
#pragma once

#include <string_view>

namespace tollgate::jose::test {

// One JWKS with every key below.
inline constexpr std::string_view kForeignJwks =
    R"({"keys":[{"kty":"RSA","n":"vc_PO9TOXGLAlWV2AQ3A1xiBRCcVsh46X8uFimkPUSlHdbFpSBEbzDC6rhaEdCm)"
    R"(Yz2nGMT4CM4ZzcbPVelGgDaHP8hy0ULqjhGMZOUnYvIscp_BrWiffpJHav9m1UUdbOkPbneCRGckE9s-RdIbzi9CSa)"
    R"(pAkjJiPJ9juj_IaqP40AVv71EfEiPBhDarvJZq1XfaSmpY4Tm8yjkWq1v2f0Y0RO8soPR0AqSDX0mVnX3uJPp2TcWc)"
    R"(ZAgSXFllh2YAESL_zvpiIUMM-ApWbNwzihQnktLTdMaa3Bxp87Pr_g_4SoNQqoyyjZEZOhvZNhIDlU8n_etTcLAabr)"
    R"(xNfsqWMMQ","e":"AQAB","kid":"RS256"},{"kty":"RSA","n":"tOFfYumc8dEaFi5BwTuEM10_dcjrdvoJHqk)"
    R"(7f7grt9NRcobzjqaAqOvQZFVRMPlnVCl9uinyAas9lY3UCFcspzZ5ByxNIoSqeq7B_hMGxGQ9Pga6RaliHCkJd_x4Z)"
    R"(sQU83b7NE7NXt8j73I7OXcbOrYNPT_MYKYRoLQ5IixDFbNDdo3CYL-P6nC7OZm0-_rmZ9WXLeMf-IBCx9QWqJ-pNyo)"
    R"(bw_nTZgpoRXLi-zC6o7eAqk3g9fZHRTOJHmuSvf-J3f5TIGYjXPqYsbYkYKz2jdmLl3rVc4Lpq-JsHePE-sQeUVqmA)"
    R"(prJ--F5KyCgAVDIRx2a83wfbeuc5u34OGX5HQ","e":"AQAB","kid":"PS384"},{"kty":"EC","x":"85IHNcWm)"
    R"(IbsJMGrmqh1T0DxsoIA9kYLQQnrXxk1beDo","y":"roXexXJeXo552zvzyz0ZnHguSL0jHqJjcI89xVJIfj8","cr)"
    R"(v":"P-256","kid":"ES256"},{"kty":"EC","x":"CuNbquqNlo9PWRMDDZVgVk3tc-FI_e4LsgzQjwC26V_JPeF)"
    R"(tmpcoPYy8Les0ZRGa","y":"wDg1SJJeY2XzTIQ1OuLK5mn5E6-cTCXNKO-8Bp1c1ciqGa4U7sklF1bUSZPinz1S",)"
    R"("crv":"P-384","kid":"ES384"},{"kty":"EC","x":"ALDCyD__DM3ibZ8lPwO_2oN08io1JrcV9AiC5E8mMqhW)"
    R"(DL-xY1ZJ9filQ1s0mk1F0jRaBpmbpX-FlvDoQVqv5_cI","y":"AJSBkgthNWf5OCd0zUNX8c6_I-b0QN5dbAgDFFr)"
    R"(QH72T6vPN7dOctDBx0w4izVb69I8OE2M3fTgbhUxwqA8bQOlz","crv":"P-521","kid":"ES512"},{"crv":"Ed)"
    R"(25519","x":"8p_ovsDJwiGh04cc8wPo73cBoLq4znQx8ONfopqSdVw","kty":"OKP","kid":"EdDSA-Ed25519")"
    R"(}]})";

struct ForeignToken {
  std::string_view kid;
  std::string_view token;
};

inline constexpr ForeignToken kForeignTokens[] = {
    {"RS256",
     "eyJhbGciOiJSUzI1NiIsImtpZCI6IlJTMjU2In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIj"
     "oiYWxpY2UifQ.Iu1N1HVlsjFQdzIVAq_oBphq97UNjtgclk_wPYjxsjBslRWSUJDn47OB6TlYIWfMbvJVMpXlu"
     "iMUMg8DtigIGdtPxkYX1k_tPS8LgWRUqaKLNuDbjr0sUeNbu2CbeVAIyKKqOsrSG3fY5sQGz-xiCCSyIji7XYF"
     "42hMCa-zUpV5OQW5D2aUQY4fz7dw3n6Iftjbkzu2T9S8EZtMgGHBxYG0shqoRSW9_7qjRy77XgqJMAQc5Z29GY"
     "RKme0zncg3SoL2uA3SyGKM7ax-qfSE4Ha31Z_0Q4tJOBxTuqAd3bq1eVCaWe9y17Vl4mB6KHtClE21TPtmPjGQ"
     "3GjQzz7TKaQ"},
    {"PS384",
     "eyJhbGciOiJQUzM4NCIsImtpZCI6IlBTMzg0In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIj"
     "oiYWxpY2UifQ.REk0O3NVJyW-cnel8hC8XqUPWIjvoeS5q7Bb2EyP32UjMo98djjE3NsVMuxHm1kaumSo3Hx6W"
     "i4wiNg5ieMij9159U_RTBjrLBhttovJBJSQwMUNRKhh2BWcCQA9dme9kD_nrJf3BN-obhkDtpB9KXhpIvJe1jn"
     "rs7figunoikGGDbbVJIU9LVGEYhRmCRTKHYPBE4Rapdw5TgCKUb4F-kxNEnrj9kdjYA8HUY7-x6M5Io4f670Df"
     "DPe96Ywmm4ZqrCxSF9s6ZOy7c2Cejy-23GW-4vkSvMPYfqMwHr6vDM80h7djr9EPttar4kGz_qhIcaxLA0A15v"
     "h21D-o9Le8w"},
    {"ES256",
     "eyJhbGciOiJFUzI1NiIsImtpZCI6IkVTMjU2In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIj"
     "oiYWxpY2UifQ.QREdZbr6p7F40iyqLZMGi8wdx6mVctHGESwVKy7JlRcHwVIBQJISBDMFch-M6dJj3MIV2AyPz"
     "ch0aDGC8BA-Kg"},
    {"ES384",
     "eyJhbGciOiJFUzM4NCIsImtpZCI6IkVTMzg0In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIj"
     "oiYWxpY2UifQ.EjZ0Me2bQaEThteEWrFHiP6-UnhuPTfVwDwpMfMkLemUlUNaiFdzAo83xTR99Wy8LD0eIQUov"
     "yVpZpvNErVBXAFxxATj1oCJ_BD7Iii5OGcN549fD8zCZyP1r4v75H9p"},
    {"ES512",
     "eyJhbGciOiJFUzUxMiIsImtpZCI6IkVTNTEyIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIj"
     "oiYWxpY2UifQ.APpT9XzwuczUjwvM41RLNxcJCvnbXWDhgAMfh8xokIB5o-o9FM0MAAoQvhbsG8tqyyNUd95DE"
     "Pzck4uKT3k6mr-0AAbARV0-uqd6STOnUVEksaUWexAOkrFxSYjq159hbGR8zIPp7z3KTW6sE2IviHIejRTATgT"
     "IHMvt_Q7uwMk0n3zv"},
    {"EdDSA-Ed25519",
     "eyJhbGciOiJFZERTQSIsImtpZCI6IkVkRFNBLUVkMjU1MTkifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGx"
     "lIiwic3ViIjoiYWxpY2UifQ.FyYHjyvoP_cn7-zPaLNoHaHjCcrsInLjfMM0OZ27MdkQ5EYbCDywNCoulLdbui"
     "JdrVXYc_qyI9aff29aARVjAQ"},
};

}  // namespace tollgate::jose::test
