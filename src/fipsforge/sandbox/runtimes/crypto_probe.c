/* fipsforge's OpenSSL probe: asks an image's own libcrypto.so.3 / libssl.so.3, no openssl CLI needed.
 *
 * Built on the host (older glibc) and bound into the sandbox; the OpenSSL libraries are dlopen()ed, so
 * the program links only libc and runs against the image's libc and OpenSSL.
 *
 *   fipsforge-crypto-probe CHECK            one check; exit 0 and a result line, or exit 1 and OpenSSL's
 *                                           error on stderr (checks: see `checks` below)
 *   fipsforge-crypto-probe serve CERT KEY PORT -- CLIENT ARGS...
 *                                           an HTTPS server on 127.0.0.1:PORT (the image's libssl) while
 *                                           CLIENT runs; exits with the client's status
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void *(*ptr_fn)();
typedef int (*int_fn)();
typedef unsigned long (*ulong_fn)();

static void *crypto, *ssl;

static void *symbol(void *library, const char *name) {
    void *found = dlsym(library, name);
    if (found == NULL) {
        fprintf(stderr, "fipsforge-crypto-probe: %s: not in the image's OpenSSL\n", name);
        exit(3);
    }
    return found;
}

#define P(name) ((ptr_fn)symbol(crypto, #name))
#define I(name) ((int_fn)symbol(crypto, #name))
#define SSL_P(name) ((ptr_fn)symbol(ssl, #name))
#define SSL_I(name) ((int_fn)symbol(ssl, #name))

/* OpenSSL's queued errors in its own format (error:CODE:LIB:FUNC:REASON), then exit 1. */
static int refused(const char *what) {
    unsigned long code;
    char line[256];
    fprintf(stderr, "%s failed\n", what);
    while ((code = ((ulong_fn)symbol(crypto, "ERR_get_error"))()) != 0) {
        ((void (*)(unsigned long, char *, size_t))symbol(crypto, "ERR_error_string_n"))(code, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    return 1;
}

static void hex(const unsigned char *data, size_t length) {
    for (size_t i = 0; i < length; i++) printf("%02x", data[i]);
    printf("\n");
}

static int each_provider(void *provider, void *unused) {
    (void)unused;
    printf(" %s", (const char *)P(OSSL_PROVIDER_get0_name)(provider));
    return 1;
}

static int providers(void) {
    printf("providers:");
    I(OSSL_PROVIDER_do_all)(NULL, each_provider, NULL);
    printf("\nfips available: %s\n", I(OSSL_PROVIDER_available)(NULL, "fips") ? "yes" : "no");
    printf("default properties fips=yes: %s\n", I(EVP_default_properties_is_fips_enabled)(NULL) ? "yes" : "no");
    return 0;
}

static int digest(const char *name) {
    unsigned char out[64];
    unsigned int length = 0;
    void *md = P(EVP_MD_fetch)(NULL, name, NULL);
    if (md == NULL || !I(EVP_Digest)("abc", (size_t)3, out, &length, md, NULL)) return refused(name);
    printf("%s(abc) = ", name);
    hex(out, length);
    return 0;
}

static int rand_bytes(void) {
    unsigned char out[32];
    if (I(RAND_bytes)(out, 32) != 1) return refused("RAND_bytes");
    printf("RAND_bytes: ");
    hex(out, sizeof out);
    return 0;
}

/* Encrypt and decrypt 32 bytes with a random key; the round trip must give them back. */
static int aes_256_gcm(void) {
    unsigned char key[32], iv[12], plain[32] = "fipsforge AES-256-GCM round trip", sealed[48], opened[48], tag[16];
    int length = 0, final = 0;
    void *cipher = P(EVP_CIPHER_fetch)(NULL, "AES-256-GCM", NULL);
    void *ctx = P(EVP_CIPHER_CTX_new)();
    if (cipher == NULL || I(RAND_bytes)(key, 32) != 1 || I(RAND_bytes)(iv, 12) != 1) return refused("AES-256-GCM");
    if (!I(EVP_EncryptInit_ex2)(ctx, cipher, key, iv, NULL) || !I(EVP_EncryptUpdate)(ctx, sealed, &length, plain, 32)
        || !I(EVP_EncryptFinal_ex)(ctx, sealed + length, &final)
        || !I(EVP_CIPHER_CTX_ctrl)(ctx, 0x10 /* EVP_CTRL_AEAD_GET_TAG */, 16, tag))
        return refused("AES-256-GCM encryption");
    if (!I(EVP_DecryptInit_ex2)(ctx, cipher, key, iv, NULL) || !I(EVP_DecryptUpdate)(ctx, opened, &length, sealed, 32)
        || !I(EVP_CIPHER_CTX_ctrl)(ctx, 0x11 /* EVP_CTRL_AEAD_SET_TAG */, 16, tag)
        || I(EVP_DecryptFinal_ex)(ctx, opened + length, &final) <= 0)
        return refused("AES-256-GCM decryption");
    if (memcmp(plain, opened, 32) != 0) {
        fprintf(stderr, "AES-256-GCM: round trip gave different bytes\n");
        return 2;
    }
    printf("AES-256-GCM: round trip ok\n");
    return 0;
}

static int cipher(const char *name) {
    unsigned char key[32] = {0}, iv[16] = {0}, out[64];
    int length = 0;
    void *found = P(EVP_CIPHER_fetch)(NULL, name, NULL);
    void *ctx = P(EVP_CIPHER_CTX_new)();
    if (found == NULL || !I(EVP_EncryptInit_ex2)(ctx, found, key, iv, NULL)
        || !I(EVP_EncryptUpdate)(ctx, out, &length, key, 16))
        return refused(name);
    printf("%s: encrypted\n", name);
    return 0;
}

static int keygen(const char *algorithm, const char *group) {
    void *key = NULL;
    void *ctx = P(EVP_PKEY_CTX_new_from_name)(NULL, algorithm, NULL);
    if (ctx == NULL || I(EVP_PKEY_keygen_init)(ctx) <= 0
        || (group != NULL && I(EVP_PKEY_CTX_set_group_name)(ctx, group) <= 0)
        || I(EVP_PKEY_generate)(ctx, &key) <= 0)
        return refused(algorithm);
    printf("%s%s%s key generated: %d bits\n", algorithm, group ? " " : "", group ? group : "",
           I(EVP_PKEY_get_bits)(key));
    return 0;
}

static int check(const char *name) {
    if (!strcmp(name, "providers")) return providers();
    if (!strcmp(name, "rand")) return rand_bytes();
    if (!strcmp(name, "sha256")) return digest("SHA256");
    if (!strcmp(name, "md5")) return digest("MD5");
    if (!strcmp(name, "aes-256-gcm")) return aes_256_gcm();
    if (!strcmp(name, "chacha20")) return cipher("ChaCha20");
    if (!strcmp(name, "ec-p256-keygen")) return keygen("EC", "P-256");
    if (!strcmp(name, "x25519-keygen")) return keygen("X25519", NULL);
    fprintf(stderr, "fipsforge-crypto-probe: unknown check %s\n", name);
    return 3;
}

/* Answer HTTPS requests with a fixed body until killed; handshake failures are the client's to report. */
static void serve(int listener, const char *cert, const char *key) {
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\nfipsforge hello\n";
    char request[4096];
    void *ctx = SSL_P(SSL_CTX_new)(SSL_P(TLS_server_method)());
    if (ctx == NULL || SSL_I(SSL_CTX_use_certificate_chain_file)(ctx, cert) != 1
        || SSL_I(SSL_CTX_use_PrivateKey_file)(ctx, key, 1 /* SSL_FILETYPE_PEM */) != 1)
        _exit(refused("TLS server set-up"));
    for (;;) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) continue;
        void *session = SSL_P(SSL_new)(ctx);
        SSL_I(SSL_set_fd)(session, connection);
        if (SSL_I(SSL_accept)(session) == 1) {
            SSL_I(SSL_read)(session, request, (int)sizeof request);
            SSL_I(SSL_write)(session, reply, (int)sizeof reply - 1);
            SSL_I(SSL_shutdown)(session);
        }
        ((void (*)(void *))symbol(ssl, "SSL_free"))(session);
        close(connection);
    }
}

static int serve_while(char **argv) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1, status = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 8)) {
        perror("fipsforge-crypto-probe: bind 127.0.0.1");
        return 3;
    }
    ssl = dlopen("libssl.so.3", RTLD_NOW);
    if (ssl == NULL) {
        fprintf(stderr, "fipsforge-crypto-probe: %s\n", dlerror());
        return 3;
    }
    pid_t server = fork();
    if (server == 0) serve(listener, argv[0], argv[1]);
    close(listener);
    pid_t client = fork();
    if (client == 0) {
        execv(argv[4], argv + 4);
        perror(argv[4]);
        _exit(127);
    }
    waitpid(client, &status, 0);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_GLOBAL);
    if (crypto == NULL) {
        fprintf(stderr, "fipsforge-crypto-probe: %s\n", dlerror());
        return 3;
    }
    if (argc >= 7 && !strcmp(argv[1], "serve") && !strcmp(argv[5], "--")) return serve_while(argv + 2);
    if (argc == 2) return check(argv[1]);
    fprintf(stderr, "usage: fipsforge-crypto-probe CHECK | serve CERT KEY PORT -- CLIENT ARGS...\n");
    return 3;
}
