/* OpenSSL behind libomemo-c's crypto provider, and the payload cipher. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "omemo/crypto.h"

int xu_omemo_random(uint8_t *buf, size_t len)
{
    return len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1 ? -1 : 0;
}

static int cb_random(uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return xu_omemo_random(data, len) ? SG_ERR_UNKNOWN : 0;
}

static int cb_hmac_init(void **hctx, const uint8_t *key, size_t key_len, void *ud)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    (void)ud;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    if (!c || EVP_MAC_init(c, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *hctx = c;
    return 0;
}

static int cb_hmac_update(void *hctx, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return EVP_MAC_update(hctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cb_hmac_final(void *hctx, signal_buffer **out, void *ud)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t n = 0;

    (void)ud;
    if (EVP_MAC_final(hctx, md, &n, sizeof md) != 1)
        return SG_ERR_UNKNOWN;
    *out = signal_buffer_create(md, n);
    return *out ? 0 : SG_ERR_NOMEM;
}

static void cb_hmac_cleanup(void *hctx, void *ud)
{
    (void)ud;
    EVP_MAC_CTX_free(hctx);
}

static int cb_sha512_init(void **dctx, void *ud)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    (void)ud;
    if (!c || EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *dctx = c;
    return 0;
}

static int cb_sha512_update(void *dctx, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    return EVP_DigestUpdate(dctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cb_sha512_final(void *dctx, signal_buffer **out, void *ud)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    (void)ud;
    /* libomemo-c reuses the context after final: start it again */
    if (EVP_DigestFinal_ex(dctx, md, &n) != 1 || EVP_DigestInit_ex(dctx, EVP_sha512(), NULL) != 1)
        return SG_ERR_UNKNOWN;
    *out = signal_buffer_create(md, n);
    return *out ? 0 : SG_ERR_NOMEM;
}

static void cb_sha512_cleanup(void *dctx, void *ud)
{
    (void)ud;
    EVP_MD_CTX_free(dctx);
}

static const EVP_CIPHER *pick(int cipher, size_t key_len)
{
    if (cipher == SG_CIPHER_AES_CBC_PKCS5)
        return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc()
             : key_len == 32 ? EVP_aes_256_cbc() : NULL;
    if (cipher == SG_CIPHER_AES_CTR_NOPADDING)
        return key_len == 16 ? EVP_aes_128_ctr() : key_len == 24 ? EVP_aes_192_ctr()
             : key_len == 32 ? EVP_aes_256_ctr() : NULL;
    return NULL;
}

static int aes_crypt(int enc, signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                 const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len)
{
    const EVP_CIPHER *c = pick(cipher, key_len);
    EVP_CIPHER_CTX *x;
    uint8_t *out;
    int n1 = 0, n2 = 0, rc = SG_ERR_UNKNOWN;

    if (!c || iv_len != 16 || in_len > 0x7fffff00)
        return SG_ERR_INVAL;
    out = OPENSSL_malloc(in_len + 32);
    x = EVP_CIPHER_CTX_new();
    if (out && x && EVP_CipherInit_ex(x, c, NULL, key, iv, enc) == 1 &&
        EVP_CipherUpdate(x, out, &n1, in, (int)in_len) == 1 &&
        EVP_CipherFinal_ex(x, out + n1, &n2) == 1) {
        *output = signal_buffer_create(out, (size_t)n1 + (size_t)n2);
        rc = *output ? 0 : SG_ERR_NOMEM;
    }
    EVP_CIPHER_CTX_free(x);
    if (out)
        OPENSSL_clear_free(out, in_len + 32);
    return rc;
}

static int cb_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, void *ud)
{
    (void)ud;
    return aes_crypt(1, output, cipher, key, key_len, iv, iv_len, in, in_len);
}

static int cb_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, void *ud)
{
    (void)ud;
    return aes_crypt(0, output, cipher, key, key_len, iv, iv_len, in, in_len);
}

int xu_omemo_crypto_install(signal_context *ctx)
{
    signal_crypto_provider p = {
        .random_func = cb_random,
        .hmac_sha256_init_func = cb_hmac_init,
        .hmac_sha256_update_func = cb_hmac_update,
        .hmac_sha256_final_func = cb_hmac_final,
        .hmac_sha256_cleanup_func = cb_hmac_cleanup,
        .sha512_digest_init_func = cb_sha512_init,
        .sha512_digest_update_func = cb_sha512_update,
        .sha512_digest_final_func = cb_sha512_final,
        .sha512_digest_cleanup_func = cb_sha512_cleanup,
        .encrypt_func = cb_encrypt,
        .decrypt_func = cb_decrypt,
        .user_data = NULL,
    };
    return signal_context_set_crypto_provider(ctx, &p);
}

static const EVP_CIPHER *gcm(size_t key_len)
{
    return key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : NULL;
}

int xu_omemo_gcm_encrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const uint8_t *in, size_t in_len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, rc = -1;

    if (x && gcm(key_len) && in_len < 0x7fffff00 && iv_len > 0 && iv_len <= 64 &&
        EVP_EncryptInit_ex(x, gcm(key_len), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1 &&
        EVP_EncryptInit_ex(x, NULL, NULL, key, iv) == 1 &&
        EVP_EncryptUpdate(x, out, &n, in, (int)in_len) == 1 &&
        EVP_EncryptFinal_ex(x, out + n, &n) == 1 &&
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, XU_OMEMO_GCM_TAG, tag) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free(x);
    return rc;
}

int xu_omemo_gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const uint8_t *in, size_t in_len, const uint8_t *tag, uint8_t *out)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    uint8_t t[XU_OMEMO_GCM_TAG];
    int n = 0, rc = -1;

    memcpy(t, tag, sizeof t);
    if (x && gcm(key_len) && in_len < 0x7fffff00 && iv_len > 0 && iv_len <= 64 &&
        EVP_DecryptInit_ex(x, gcm(key_len), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1 &&
        EVP_DecryptInit_ex(x, NULL, NULL, key, iv) == 1 &&
        EVP_DecryptUpdate(x, out, &n, in, (int)in_len) == 1 &&
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, XU_OMEMO_GCM_TAG, t) == 1 &&
        EVP_DecryptFinal_ex(x, out + n, &n) == 1)
        rc = 0;
    if (rc)
        OPENSSL_cleanse(out, in_len);
    EVP_CIPHER_CTX_free(x);
    return rc;
}
