/* The inner loop of scoring, compiled: one text's l2-normalised TF-IDF vector times a
 * weight matrix, for the two analyzers the model uses (scikit-learn's "word" with the
 * token pattern \b\w+\b, and "char_wb"). Same numbers as
 * `TfidfVectorizer.transform([text]) @ weights`; `classifiers.model.FastTfidf` is the
 * Python version of the same thing and the tests hold the two to scikit-learn.
 *
 * Why C: a 5 KB mail is ~800 words and ~16,000 character n-grams. In Python each one is
 * a dictionary lookup behind an interpreter step; here it is a hash and a compare, and
 * the GIL is released while it runs, so the gateway's scoring threads use both cores.
 *
 * Hostile input: every table is open-addressed with a per-process random seed, the
 * per-text word table gives up deduplicating after a bounded probe (the word is then
 * counted directly: same result, no quadratic blow-up), and n-grams longer than the
 * longest vocabulary term are never built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t SEED = 0x9e3779b97f4a7c15ULL;

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t hash_cp(const Py_UCS4 *s, Py_ssize_t n) {
    uint64_t h = SEED ^ (uint64_t)n;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix64(h);
}

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* -- the vocabulary: term -> feature id ------------------------------------------- */

typedef struct {
    PyObject_HEAD
    int char_wb;
    int min_n, max_n, sublinear;
    Py_ssize_t n_features, k, max_term;
    Py_UCS4 *pool;          /* every term's code points, end to end */
    Py_ssize_t *term_off;   /* n_features + 1 offsets into pool */
    uint32_t *slot_id;      /* feature id + 1; 0 is empty */
    uint32_t *slot_hash;
    size_t mask;
    double *idf;
    float *weights;         /* n_features x k, row-major */
} Table;

static Py_ssize_t lookup(const Table *t, const Py_UCS4 *s, Py_ssize_t n) {
    if (n > t->max_term) return -1;
    uint64_t h = hash_cp(s, n);
    uint32_t h32 = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t id = t->slot_id[i];
        if (!id) return -1;
        if (t->slot_hash[i] != h32) continue;
        Py_ssize_t off = t->term_off[id - 1], len = t->term_off[id] - off;
        if (len == n && memcmp(t->pool + off, s, (size_t)n * sizeof(Py_UCS4)) == 0)
            return id - 1;
    }
}

/* -- per text: feature id -> count ---------------------------------------------------- */

typedef struct { uint32_t *key; double *count; size_t mask, used; } Counts;

static int counts_init(Counts *c, size_t hint) {
    size_t cap = pow2_at_least(hint * 2);
    c->key = calloc(cap, sizeof(uint32_t));
    c->count = malloc(cap * sizeof(double));
    c->mask = cap - 1;
    c->used = 0;
    return c->key && c->count ? 0 : -1;
}

static int counts_add(Counts *c, uint32_t id, double by) {
    if ((c->used + 1) * 2 > c->mask + 1) {         /* grow at half full */
        Counts bigger;
        if (counts_init(&bigger, (c->mask + 1)) < 0) {
            free(bigger.key); free(bigger.count);
            return -1;
        }
        for (size_t i = 0; i <= c->mask; i++)
            if (c->key[i]) counts_add(&bigger, c->key[i] - 1, c->count[i]);
        free(c->key); free(c->count);
        *c = bigger;
    }
    for (size_t i = (size_t)mix64(id) & c->mask;; i = (i + 1) & c->mask) {
        if (c->key[i] == id + 1) { c->count[i] += by; return 0; }
        if (!c->key[i]) { c->key[i] = id + 1; c->count[i] = by; c->used++; return 0; }
    }
}

/* -- analyzers -------------------------------------------------------------------------- */

static inline int is_word_char(Py_UCS4 ch) { return Py_UNICODE_ISALNUM(ch) || ch == '_'; }

/* "word": tokens are maximal runs of \w; n-grams join tokens with one space. */
static int word_grams(const Table *t, const Py_UCS4 *s, Py_ssize_t len, Counts *c) {
    /* a token and the character after it: at most (len + 1) / 2 tokens */
    Py_ssize_t *start = malloc(sizeof(Py_ssize_t) * (size_t)(len / 2 + 1));
    Py_ssize_t *tlen = malloc(sizeof(Py_ssize_t) * (size_t)(len / 2 + 1));
    Py_UCS4 *gram = malloc(sizeof(Py_UCS4) * (size_t)(t->max_term + 1));
    int rc = 0;
    if (!start || !tlen || !gram) { rc = -1; goto done; }
    Py_ssize_t ntok = 0;
    for (Py_ssize_t i = 0; i < len;) {
        if (!is_word_char(s[i])) { i++; continue; }
        Py_ssize_t j = i;
        while (j < len && is_word_char(s[j])) j++;
        start[ntok] = i; tlen[ntok] = j - i; ntok++;
        i = j;
    }
    for (int n = t->min_n; n <= t->max_n && rc == 0; n++) {
        for (Py_ssize_t i = 0; i + n <= ntok; i++) {
            Py_ssize_t glen = n - 1;
            for (int m = 0; m < n; m++) glen += tlen[i + m];
            if (glen > t->max_term) continue;
            Py_ssize_t pos = 0;
            for (int m = 0; m < n; m++) {
                if (m) gram[pos++] = ' ';
                memcpy(gram + pos, s + start[i + m], sizeof(Py_UCS4) * (size_t)tlen[i + m]);
                pos += tlen[i + m];
            }
            Py_ssize_t id = lookup(t, gram, glen);
            if (id >= 0 && counts_add(c, (uint32_t)id, 1.0) < 0) { rc = -1; break; }
        }
    }
done:
    free(start); free(tlen); free(gram);
    return rc;
}

/* The n-grams of one whitespace-delimited word, padded with a space each side, exactly
 * as scikit-learn's _char_wb_ngrams: a padded word no longer than n is one n-gram (the
 * whole of it) and ends the loop over n. */
static int one_word_char_grams(const Table *t, const Py_UCS4 *w, Py_ssize_t wlen,
                               Py_UCS4 *padded, double times, Counts *c) {
    Py_ssize_t plen = wlen + 2;
    padded[0] = ' ';
    memcpy(padded + 1, w, sizeof(Py_UCS4) * (size_t)wlen);
    padded[plen - 1] = ' ';
    for (int n = t->min_n; n <= t->max_n; n++) {
        if (plen <= n) {
            Py_ssize_t id = lookup(t, padded, plen);
            if (id >= 0 && counts_add(c, (uint32_t)id, times) < 0) return -1;
            break;
        }
        for (Py_ssize_t off = 0; off + n <= plen; off++) {
            Py_ssize_t id = lookup(t, padded + off, n);
            if (id >= 0 && counts_add(c, (uint32_t)id, times) < 0) return -1;
        }
    }
    return 0;
}

#define MAX_PROBE 64

static int char_wb_grams(const Table *t, const Py_UCS4 *s, Py_ssize_t len, Counts *c) {
    /* distinct words first (mail repeats its words), each with how often it occurs;
     * the table is sized by a count of the words, at most half full */
    size_t nwords = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        nwords += !Py_UNICODE_ISSPACE(s[i]) && (i == 0 || Py_UNICODE_ISSPACE(s[i - 1]));
    size_t cap = pow2_at_least(nwords * 2 + 1);
    Py_ssize_t *wstart = malloc(sizeof(Py_ssize_t) * cap);
    Py_ssize_t *wlen = calloc(cap, sizeof(Py_ssize_t));
    uint64_t *whash = malloc(sizeof(uint64_t) * cap);
    double *wcount = malloc(sizeof(double) * cap);
    Py_ssize_t longest = 0;
    int rc = 0;
    if (!wstart || !wlen || !whash || !wcount) { rc = -1; goto done; }
    for (Py_ssize_t i = 0; i < len;) {
        if (Py_UNICODE_ISSPACE(s[i])) { i++; continue; }
        Py_ssize_t j = i;
        while (j < len && !Py_UNICODE_ISSPACE(s[j])) j++;
        Py_ssize_t n = j - i;
        if (n > longest) longest = n;
        uint64_t h = hash_cp(s + i, n);
        size_t slot = (size_t)h & (cap - 1);
        int placed = 0;
        for (int probe = 0; probe < MAX_PROBE; probe++, slot = (slot + 1) & (cap - 1)) {
            if (!wlen[slot]) {
                wstart[slot] = i; wlen[slot] = n; whash[slot] = h; wcount[slot] = 1.0;
                placed = 1;
                break;
            }
            if (whash[slot] == h && wlen[slot] == n
                    && memcmp(s + wstart[slot], s + i, sizeof(Py_UCS4) * (size_t)n) == 0) {
                wcount[slot] += 1.0;
                placed = 1;
                break;
            }
        }
        if (!placed) {          /* a long probe: count this occurrence on its own */
            Py_UCS4 *padded = malloc(sizeof(Py_UCS4) * (size_t)(n + 2));
            if (!padded) { rc = -1; goto done; }
            rc = one_word_char_grams(t, s + i, n, padded, 1.0, c);
            free(padded);
            if (rc < 0) goto done;
        }
        i = j;
    }
    Py_UCS4 *padded = malloc(sizeof(Py_UCS4) * (size_t)(longest + 2));
    if (!padded) { rc = -1; goto done; }
    for (size_t slot = 0; slot < cap && rc == 0; slot++)
        if (wlen[slot])
            rc = one_word_char_grams(t, s + wstart[slot], wlen[slot], padded, wcount[slot], c);
    free(padded);
done:
    free(wstart); free(wlen); free(whash); free(wcount);
    return rc;
}

/* -- Table methods -------------------------------------------------------------------- */

static void Table_dealloc(Table *t) {
    free(t->pool); free(t->term_off); free(t->slot_id); free(t->slot_hash);
    free(t->idf); free(t->weights);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static int read_floats(PyObject *obj, Py_ssize_t expect, const char *fmt_name, void **out,
                       int as_double) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    int ok = view.format && view.itemsize == 4 && strcmp(view.format, "f") == 0
             && view.len == expect * 4;
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s must be C-contiguous float32 with %zd values",
                     fmt_name, expect);
        PyBuffer_Release(&view);
        return -1;
    }
    if (as_double) {
        double *d = malloc(sizeof(double) * (size_t)(expect ? expect : 1));
        if (d) for (Py_ssize_t i = 0; i < expect; i++) d[i] = ((float *)view.buf)[i];
        *out = d;
    } else {
        *out = malloc((size_t)(view.len ? view.len : 1));
        if (*out) memcpy(*out, view.buf, (size_t)view.len);
    }
    PyBuffer_Release(&view);
    if (!*out) { PyErr_NoMemory(); return -1; }
    return 0;
}

static int Table_init(Table *t, PyObject *args, PyObject *kw) {
    static char *names[] = {"terms", "idf", "weights", "k", "analyzer", "min_n", "max_n",
                            "sublinear", NULL};
    PyObject *terms, *idf, *weights;
    const char *analyzer;
    Py_ssize_t k;
    int min_n, max_n, sublinear;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OOnsiip", names, &PyList_Type, &terms,
                                     &idf, &weights, &k, &analyzer, &min_n, &max_n,
                                     &sublinear))
        return -1;
    if (strcmp(analyzer, "word") && strcmp(analyzer, "char_wb")) {
        PyErr_SetString(PyExc_ValueError, "analyzer must be 'word' or 'char_wb'");
        return -1;
    }
    if (min_n < 1 || max_n < min_n || k < 1) {
        PyErr_SetString(PyExc_ValueError, "bad n-gram range or k");
        return -1;
    }
    if (t->pool) {
        PyErr_SetString(PyExc_RuntimeError, "NgramTable is initialised once");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(terms), total = 0;
    if (n >= (Py_ssize_t)UINT32_MAX - 1) {
        PyErr_SetString(PyExc_ValueError, "too many terms");
        return -1;
    }
    t->char_wb = analyzer[0] == 'c';
    t->min_n = min_n; t->max_n = max_n; t->sublinear = sublinear;
    t->n_features = n; t->k = k; t->max_term = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(terms, i);
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "terms must be str");
            return -1;
        }
        total += PyUnicode_GET_LENGTH(s);
    }
    if (read_floats(idf, n, "idf", (void **)&t->idf, 1) < 0) return -1;
    if (read_floats(weights, n * k, "weights", (void **)&t->weights, 0) < 0) return -1;
    t->pool = malloc(sizeof(Py_UCS4) * (size_t)(total + 1));
    t->term_off = malloc(sizeof(Py_ssize_t) * (size_t)(n + 1));
    size_t cap = pow2_at_least((size_t)n * 2 + 1);
    t->slot_id = calloc(cap, sizeof(uint32_t));
    t->slot_hash = malloc(sizeof(uint32_t) * cap);
    t->mask = cap - 1;
    if (!t->pool || !t->term_off || !t->slot_id || !t->slot_hash) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t off = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(terms, i);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s);
        if (!PyUnicode_AsUCS4(s, t->pool + off, total + 1 - off, 0)) return -1;
        t->term_off[i] = off;
        if (len > t->max_term) t->max_term = len;
        uint64_t h = hash_cp(t->pool + off, len);
        size_t slot = (size_t)h & t->mask;
        while (t->slot_id[slot]) slot = (slot + 1) & t->mask;
        t->slot_id[slot] = (uint32_t)i + 1;
        t->slot_hash[slot] = (uint32_t)(h >> 32);
        off += len;
    }
    t->term_off[n] = off;
    return 0;
}

PyDoc_STRVAR(dot_doc,
"dot(text) -> list of k floats: the text's l2-normalised TF-IDF row times the weights.\n"
"`text` must already be lower-cased as the vectorizer would.");

static PyObject *Table_dot(Table *t, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    if (!t->pool) {
        PyErr_SetString(PyExc_RuntimeError, "NgramTable is not initialised");
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *s = PyUnicode_AsUCS4Copy(text);
    if (!s) return NULL;
    double *out = calloc((size_t)t->k, sizeof(double));
    if (!out) { PyMem_Free(s); return PyErr_NoMemory(); }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    Counts c;
    /* big enough for a typical mail's distinct n-grams; small enough to stay in cache */
    rc = counts_init(&c, t->char_wb ? 2048 : 512);
    if (rc == 0)
        rc = t->char_wb ? char_wb_grams(t, s, len, &c) : word_grams(t, s, len, &c);
    if (rc == 0) {
        double sumsq = 0.0;
        for (size_t i = 0; i <= c.mask; i++) {
            if (!c.key[i]) continue;
            uint32_t id = c.key[i] - 1;
            double tf = t->sublinear ? 1.0 + log(c.count[i]) : c.count[i];
            double v = tf * t->idf[id];
            const float *w = t->weights + (size_t)id * (size_t)t->k;
            sumsq += v * v;
            for (Py_ssize_t j = 0; j < t->k; j++) out[j] += v * w[j];
        }
        if (sumsq > 0) {
            double norm = sqrt(sumsq);
            for (Py_ssize_t j = 0; j < t->k; j++) out[j] /= norm;
        }
    }
    free(c.key); free(c.count);
    Py_END_ALLOW_THREADS
    PyMem_Free(s);
    if (rc < 0) { free(out); return PyErr_NoMemory(); }
    PyObject *result = PyList_New(t->k);
    for (Py_ssize_t j = 0; result && j < t->k; j++) {
        PyObject *f = PyFloat_FromDouble(out[j]);
        if (!f) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, j, f);
    }
    free(out);
    return result;
}

static PyMethodDef Table_methods[] = {
    {"dot", (PyCFunction)Table_dot, METH_O, dot_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifiers._ngrams.NgramTable",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "NgramTable(terms, idf, weights, k, analyzer, min_n, max_n, sublinear)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Table_init,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_methods = Table_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ngrams", "Compiled TF-IDF scoring (see classifiers.model).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ngrams(void) {
    /* A per-process seed, so that nobody can precompute words that collide. */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *bytes = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
    Py_XDECREF(os);
    if (!bytes) return NULL;
    memcpy(&SEED, PyBytes_AS_STRING(bytes), 8);
    Py_DECREF(bytes);
    if (PyType_Ready(&TableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "NgramTable", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
