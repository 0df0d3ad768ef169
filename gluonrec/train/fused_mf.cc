// gluonrec's fused training operators: for the factorisation models (mf, biased_mf,
// nnmf), gluonrec_mf_update below; for bpr_mf, gluonrec_bpr_update further down.
//
// One call trains on a chunk of ratings, one rating at a time (LIBMF-style stochastic
// updates), mutating the Gluon model's own parameter arrays in place:
//
//   gluonrec_mf_update(user, item, label, P, Q, bu, bi, mu, hP, hQ, hbu, hbi, hmu,
//                      biased=0|1, nonneg=0|1, adagrad=0|1, lr, reg, eps, threads)
//     -> (1,) float32: the sum over the chunk of e^2, e = prediction - label, each
//        computed just before that rating's update (the generic path's training loss).
//
// The objective per rating is the generic path's (gluonrec/train/objective.py):
//   e^2 + reg * (|p_u|^2 + |q_i|^2 + b_u^2 + b_i^2)        (no penalty on mu)
// and its exact gradient is applied: SGD w -= lr * g, or Adagrad h += g^2,
// w -= lr * g / sqrt(h + eps) (MXNet's dense Adagrad). nnmf projects p_u, q_i onto >= 0
// after each update. h* are the Adagrad accumulators (unused by SGD, any shape).
//
// Threads: the chunk is cut into a threads x threads grid of blocks, keeping the
// chunk's order inside a block: rating (u, i) is in block ((u / 16) % T, (i / 16) % T).
// Runs of 16 ids fill a 64-byte cache line of a bias table, so two threads never write
// to one line (with u % T they did, and two threads ran slower than one). In round r thread t trains block
// (t, (t + r) % T): blocks of one round share no user and no item row, so the result is
// that of the sequential order "round by round, block by block" (Chin et al., "A Fast
// Parallel SGD for Matrix Factorization in Shared Memory Systems", 2013) and does not
// depend on timing. The global bias mu, which every rating touches, is trained on a
// private copy per thread and the changes are summed after each round, in thread order.
#include <omp.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

enum Input { kUser, kItem, kLabel, kP, kQ, kBu, kBi, kMu, kHP, kHQ, kHBu, kHBi, kHMu,
             kNumInputs };
using Attrs = std::unordered_map<std::string, std::string>;
constexpr int64_t kAhead = 8;  // ratings between a row's prefetch and its use

struct Settings {
  bool biased, nonneg, adagrad;
  float lr, reg, eps;
  int threads;
};

// The attributes of operator ``op``: the optimizer's and the thread count, and with
// ``rating`` the rating kernel's model flags (biased, nonneg).
bool ReadSettings(const Attrs& attrs, const char* op, bool rating, Settings* s) {
  std::vector<const char*> names{"adagrad", "lr", "reg", "eps", "threads"};
  if (rating) names.insert(names.end(), {"biased", "nonneg"});
  for (const char* name : names) {
    if (attrs.count(name) == 0) {
      MX_ERROR_MSG << op << ": attribute '" << name << "' is missing";
      return false;
    }
  }
  s->biased = rating && std::stoi(attrs.at("biased")) != 0;
  s->nonneg = rating && std::stoi(attrs.at("nonneg")) != 0;
  s->adagrad = std::stoi(attrs.at("adagrad")) != 0;
  s->lr = std::stof(attrs.at("lr"));
  s->reg = std::stof(attrs.at("reg"));
  s->eps = std::stof(attrs.at("eps"));
  s->threads = std::stoi(attrs.at("threads"));
  if (s->threads < 1 || s->threads > 16) {
    MX_ERROR_MSG << op << ": threads must be in 1..16";
    return false;
  }
  return true;
}

// Inputs 0..last_int must be int32, the others up to num float32; one float32 output.
MXReturnValue CheckTypes(const char* op, int num, int last_int, std::vector<int>* in,
                         std::vector<int>* out) {
  for (int j = 0; j < num; ++j) {
    const int want = j <= last_int ? kInt32 : kFloat32;
    if ((*in)[j] != want) {
      MX_ERROR_MSG << op << ": input " << j << " must be "
                   << (want == kInt32 ? "int32" : "float32");
      return MX_FAIL;
    }
  }
  (*out)[0] = kFloat32;
  return MX_SUCCESS;
}

// Positions 0..n-1 grouped by ``group(position)`` (0..groups-1), each group in position
// order (a counting sort): group g is order[start[g]:start[g + 1]].
template <typename Group>
void GroupInOrder(int64_t n, int groups, Group group, std::vector<int64_t>* start,
                  std::vector<int32_t>* order) {
  start->assign(groups + 1, 0);
  order->resize(n);
  for (int64_t j = 0; j < n; ++j) ++(*start)[group(j) + 1];
  for (int g = 0; g < groups; ++g) (*start)[g + 1] += (*start)[g];
  std::vector<int64_t> fill(start->begin(), start->end() - 1);
  for (int64_t j = 0; j < n; ++j) (*order)[fill[group(j)]++] = static_cast<int32_t>(j);
}

// Flushes denormals to zero (FTZ and DAZ) on this thread while in scope: rows shrunk by
// the L2 penalty reach denormal values, on which x86 arithmetic is ~100x slower.
struct FlushDenormals {
#if defined(__SSE__)
  const unsigned int saved = _mm_getcsr();
  FlushDenormals() { _mm_setcsr(saved | 0x8040); }
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

// One parameter row (or scalar) with its Adagrad accumulator.
inline void Step(float* w, float* h, const float* g, int n, const Settings& s) {
  if (s.adagrad) {
    for (int f = 0; f < n; ++f) {
      h[f] += g[f] * g[f];
      w[f] -= s.lr * g[f] / std::sqrt(h[f] + s.eps);
    }
  } else {
    for (int f = 0; f < n; ++f) w[f] -= s.lr * g[f];
  }
}

struct Tables {
  float *P, *Q, *bu, *bi, *hP, *hQ, *hbu, *hbi;
  int64_t k;
};

// Train on the ratings order[begin:end) (positions begin..end-1 themselves when order is
// null); mu and hmu are this thread's copies.
// Returns the sum of squared errors before each update.
double TrainBlock(const int32_t* user, const int32_t* item, const float* label,
                  const int32_t* order, int64_t begin, int64_t end, const Tables& t,
                  float* mu, float* hmu, const Settings& s) {
  const FlushDenormals flush;
  const int64_t k = t.k;
  std::vector<float> gp(k), gq(k);
  double loss = 0.0;
  for (int64_t j = begin; j < end; ++j) {
    if (j + kAhead < end) {  // the user rows are random accesses: fetch them early
      const int64_t ahead = user[order ? order[j + kAhead] : j + kAhead];
      for (int64_t f = 0; f < k; f += 16) {  // every 64-byte line of the row
        __builtin_prefetch(t.P + ahead * k + f, 1);
        if (s.adagrad) __builtin_prefetch(t.hP + ahead * k + f, 1);
      }
      if (s.biased) {
        __builtin_prefetch(t.bu + ahead, 1);
        if (s.adagrad) __builtin_prefetch(t.hbu + ahead, 1);
      }
    }
    const int64_t n = order ? order[j] : j;
    const int64_t u = user[n], i = item[n];
    float* p = t.P + u * k;
    float* q = t.Q + i * k;
    float pred = 0.f;
#pragma omp simd reduction(+ : pred)  // vectorised: the sum in lane order, fixed per build
    for (int64_t f = 0; f < k; ++f) pred += p[f] * q[f];
    if (s.biased) pred += *mu + t.bu[u] + t.bi[i];
    const float e = pred - label[n];
    loss += static_cast<double>(e) * e;
    for (int64_t f = 0; f < k; ++f) {
      gp[f] = 2.f * (e * q[f] + s.reg * p[f]);
      gq[f] = 2.f * (e * p[f] + s.reg * q[f]);
    }
    Step(p, t.hP + u * k, gp.data(), static_cast<int>(k), s);
    Step(q, t.hQ + i * k, gq.data(), static_cast<int>(k), s);
    if (s.nonneg) {
      for (int64_t f = 0; f < k; ++f) {
        p[f] = std::max(p[f], 0.f);
        q[f] = std::max(q[f], 0.f);
      }
    }
    if (s.biased) {
      const float gbu = 2.f * (e + s.reg * t.bu[u]);
      const float gbi = 2.f * (e + s.reg * t.bi[i]);
      const float gmu = 2.f * e;
      Step(t.bu + u, t.hbu + u, &gbu, 1, s);
      Step(t.bi + i, t.hbi + i, &gbi, 1, s);
      Step(mu, hmu, &gmu, 1, s);
    }
  }
  return loss;
}

MXReturnValue ParseAttrs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = kNumInputs;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue InferType(const Attrs& attrs, std::vector<int>* in, std::vector<int>* out) {
  return CheckTypes("gluonrec_mf_update", kNumInputs, kItem, in, out);
}

MXReturnValue InferShape(const Attrs& attrs, std::vector<std::vector<unsigned int>>* in,
                         std::vector<std::vector<unsigned int>>* out) {
  const auto& s = *in;
  if (s[kUser].size() != 1 || s[kUser] != s[kItem] || s[kUser] != s[kLabel]) {
    MX_ERROR_MSG << "gluonrec_mf_update: user, item and label must be 1-D of one length";
    return MX_FAIL;
  }
  if (s[kP].size() != 2 || s[kQ].size() != 2 || s[kP][1] != s[kQ][1]) {
    MX_ERROR_MSG << "gluonrec_mf_update: P and Q must be 2-D with the same width";
    return MX_FAIL;
  }
  (*out)[0] = {1};
  return MX_SUCCESS;
}

MXReturnValue MutateInputs(const Attrs& attrs, std::vector<int>* indices) {
  for (int j = kP; j < kNumInputs; ++j) indices->push_back(j);
  return MX_SUCCESS;
}

MXReturnValue Forward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                      std::vector<MXTensor>* outputs, const OpResource& res) {
  Settings s;
  if (!ReadSettings(attrs, "gluonrec_mf_update", true, &s)) return MX_FAIL;
  auto& in = *inputs;
  const int64_t n = in[kUser].size();
  const int64_t num_users = in[kP].shape[0], num_items = in[kQ].shape[0];
  Tables t{in[kP].data<float>(), in[kQ].data<float>(), in[kBu].data<float>(),
           in[kBi].data<float>(), in[kHP].data<float>(), in[kHQ].data<float>(),
           in[kHBu].data<float>(), in[kHBi].data<float>(), in[kP].shape[1]};
  if (s.adagrad && (in[kHP].size() != in[kP].size() || in[kHQ].size() != in[kQ].size())) {
    MX_ERROR_MSG << "gluonrec_mf_update: Adagrad accumulators must match P and Q";
    return MX_FAIL;
  }
  if (s.biased && (in[kBu].size() != num_users || in[kBi].size() != num_items ||
                   (s.adagrad && (in[kHBu].size() != num_users ||
                                  in[kHBi].size() != num_items)))) {
    MX_ERROR_MSG << "gluonrec_mf_update: bias tables must have one entry per row";
    return MX_FAIL;
  }
  const int32_t* user = in[kUser].data<int32_t>();
  const int32_t* item = in[kItem].data<int32_t>();
  const float* label = in[kLabel].data<float>();
  const int T = s.threads;
  if (n > INT32_MAX) {
    MX_ERROR_MSG << "gluonrec_mf_update: a chunk holds at most 2^31 - 1 ratings";
    return MX_FAIL;
  }
  // One parallel pass: check the ids and note each rating's block.
  std::vector<uint8_t> blocks(T > 1 ? n : 0);
  int64_t bad = n;
#pragma omp parallel for num_threads(T) schedule(static) reduction(min : bad)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t u = user[j], i = item[j];
    if (u < 0 || u >= num_users || i < 0 || i >= num_items) {
      bad = std::min(bad, j);
    } else if (T > 1) {
      blocks[j] = static_cast<uint8_t>(((u >> 4) % T) * T + (i >> 4) % T);
    }
  }
  if (bad < n) {
    MX_ERROR_MSG << "gluonrec_mf_update: rating " << bad << " has user " << user[bad]
                 << ", item " << item[bad] << " outside the tables (" << num_users
                 << " x " << num_items << ")";
    return MX_FAIL;
  }
  // Counting sort of the ratings into the T x T blocks, keeping the chunk's order
  // (one thread trains the chunk in its own order).
  std::vector<int64_t> start{0, n};
  std::vector<int32_t> order;
  if (T > 1) GroupInOrder(n, T * T, [&](int64_t j) { return blocks[j]; }, &start, &order);
  const int32_t* positions = T > 1 ? order.data() : nullptr;

  float* mu = in[kMu].data<float>();
  float* hmu = in[kHMu].data<float>();
  std::vector<double> losses(T, 0.0);
  std::vector<float> mus(T), hmus(T);
  for (int r = 0; r < T; ++r) {
    const float mu0 = *mu, hmu0 = *hmu;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int th = 0; th < T; ++th) {
      const int b = th * T + (th + r) % T;
      float my_mu = mu0, my_hmu = hmu0;  // on this thread's stack: no false sharing
      const double loss = TrainBlock(user, item, label, positions, start[b],
                                     start[b + 1], t, &my_mu, &my_hmu, s);
      losses[th] += loss;
      mus[th] = my_mu;
      hmus[th] = my_hmu;
    }
    double new_mu = mu0, new_hmu = hmu0;  // mu0 plus each thread's change, in order
    for (int th = 0; th < T; ++th) {
      new_mu += static_cast<double>(mus[th]) - mu0;
      new_hmu += static_cast<double>(hmus[th]) - hmu0;
    }
    *mu = static_cast<float>(new_mu);
    *hmu = static_cast<float>(new_hmu);
  }
  double total = 0.0;
  for (int th = 0; th < T; ++th) total += losses[th];
  (*outputs)[0].data<float>()[0] = static_cast<float>(total);
  return MX_SUCCESS;
}


// ---------------------------------------------------------------------------------------
// gluonrec_bpr_update(user, item, negative, weight, P, Q, bi, hP, hQ, hbi,
//                     adagrad=0|1, lr, reg, eps, threads[, round])
//   -> (1,) float32: the sum over the chunk of w * mean_j softplus(x_uj - x_ui), each
//      computed just before that positive's update (the generic path's training loss).
//
// bpr_mf's objective per positive (u, i) with weight w and negatives j_1..j_m, as the
// generic path's (gluonrec/train/objective.py, RankingObjective with loss 'bpr'), with
// x_ui = p_u . q_i + b_i:
//   w / m * sum_j softplus(x_uj - x_ui)
//     + reg * (|p_u|^2 + |q_i|^2 + b_i^2 + 1/m * sum_j (|q_j|^2 + b_j^2))
// Its exact gradient, every part computed from the values before this positive's
// update, is applied row by row: p_u, q_i, b_i, then each negative's q_j and b_j in
// order (a negative drawn twice gets two steps), with SGD or Adagrad as above.
//
// Threads: the negatives are random items, so no block of the rating matrix keeps two
// threads off each other's item rows. Instead each thread trains the positives of its
// own users (runs of 16 ids: user block (u / 16) % T, in the chunk's order), in rounds
// of R positives per thread. In a round every thread starts from the same item tables:
// thread 0 updates them in place, thread t > 0 a private copy; after the round each
// copy's change is added to them, thread by thread, element by element. So the result
// depends on the chunk, T and R only, never on timing, and one thread is the plain
// sequential order. Item rows see the other threads' updates one round late (LIBMF's
// one-class solver avoids that by drawing the negatives inside the block instead,
// which changes what is sampled).
enum BprInput { kBUser, kBItem, kBNeg, kBWeight, kBP, kBQ, kBBi, kBHP, kBHQ, kBHBi,
                kBprInputs };

MXReturnValue BprParseAttrs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = kBprInputs;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue BprInferType(const Attrs& attrs, std::vector<int>* in, std::vector<int>* out) {
  return CheckTypes("gluonrec_bpr_update", kBprInputs, kBNeg, in, out);
}

MXReturnValue BprInferShape(const Attrs& attrs, std::vector<std::vector<unsigned int>>* in,
                            std::vector<std::vector<unsigned int>>* out) {
  const auto& s = *in;
  if (s[kBUser].size() != 1 || s[kBUser] != s[kBItem] || s[kBUser] != s[kBWeight] ||
      s[kBNeg].size() != 2 || s[kBNeg][0] != s[kBUser][0]) {
    MX_ERROR_MSG << "gluonrec_bpr_update: user, item and weight must be 1-D of one "
                    "length n, negative (n, m)";
    return MX_FAIL;
  }
  if (s[kBP].size() != 2 || s[kBQ].size() != 2 || s[kBP][1] != s[kBQ][1]) {
    MX_ERROR_MSG << "gluonrec_bpr_update: P and Q must be 2-D with the same width";
    return MX_FAIL;
  }
  (*out)[0] = {1};
  return MX_SUCCESS;
}

MXReturnValue BprMutateInputs(const Attrs& attrs, std::vector<int>* indices) {
  for (int j = kBP; j < kBprInputs; ++j) indices->push_back(j);
  return MX_SUCCESS;
}

inline double Softplus(double x) {  // log(1 + e^x) without overflow
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

struct BprData {
  const int32_t *user, *item, *negative;
  const float* weight;
  int64_t m, k;
};

// The item-side arrays one thread updates (the shared ones or its private copy).
struct ItemTables {
  float *Q, *bi, *hQ, *hbi;
};

// Train the positives order[begin:end) in that order; returns their loss.
double TrainBpr(const BprData& d, const int32_t* order, int64_t begin, int64_t end,
                float* P, float* hP, const ItemTables& it, const Settings& s) {
  const FlushDenormals flush;
  const int64_t m = d.m, k = d.k;
  float *Q = it.Q, *bi = it.bi, *hQ = it.hQ, *hbi = it.hbi;
  std::vector<float> gp(k), gq(k), gneg(m * k), coef(m), gbneg(m);
  double total = 0.0;
  const float inv_m = 1.f / static_cast<float>(m), reg2 = 2.f * s.reg;
  for (int64_t c = begin; c < end; ++c) {
    if (c + 1 < end) {  // the next positive's user row is a random access: fetch it early
      const int64_t next = d.user[order[c + 1]];
      for (int64_t f = 0; f < k; f += 16) {
        __builtin_prefetch(P + next * k + f, 1);
        if (s.adagrad) __builtin_prefetch(hP + next * k + f, 1);
      }
    }
    const int64_t r = order[c];
    const int64_t u = d.user[r], i = d.item[r];
    const int32_t* js = d.negative + r * m;
    float* p = P + u * k;
    float* q = Q + i * k;
    // The dot products are vectorised (omp simd: the sum in the vector's lane order,
    // fixed for a build, so runs stay deterministic).
    float x_ui = bi[i];
#pragma omp simd reduction(+ : x_ui)
    for (int64_t f = 0; f < k; ++f) x_ui += p[f] * q[f];
    const float w = d.weight[r];
    double loss = 0.0;
    float coef_i = 0.f;  // d objective / d x_ui
    for (int64_t j = 0; j < m; ++j) {
      const float* qj = Q + static_cast<int64_t>(js[j]) * k;
      float x_uj = bi[js[j]];
#pragma omp simd reduction(+ : x_uj)
      for (int64_t f = 0; f < k; ++f) x_uj += p[f] * qj[f];
      const double diff = static_cast<double>(x_uj) - x_ui;
      loss += Softplus(diff);
      const float sig = static_cast<float>(1.0 / (1.0 + std::exp(-diff)));
      coef[j] = w * inv_m * sig;  // d objective / d x_uj
      coef_i -= coef[j];
    }
    total += w * loss * inv_m;
    for (int64_t f = 0; f < k; ++f) {
      gp[f] = coef_i * q[f] + reg2 * p[f];
      gq[f] = coef_i * p[f] + reg2 * q[f];
    }
    for (int64_t j = 0; j < m; ++j) {
      const float* qj = Q + static_cast<int64_t>(js[j]) * k;
      float* gj = gneg.data() + j * k;
      const float cj = coef[j];
      for (int64_t f = 0; f < k; ++f) {
        gp[f] += cj * qj[f];
        gj[f] = cj * p[f] + reg2 * inv_m * qj[f];
      }
      gbneg[j] = cj + reg2 * inv_m * bi[js[j]];
    }
    const float gbi = coef_i + reg2 * bi[i];
    Step(p, hP + u * k, gp.data(), static_cast<int>(k), s);
    Step(q, hQ + i * k, gq.data(), static_cast<int>(k), s);
    Step(bi + i, hbi + i, &gbi, 1, s);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t jj = js[j];
      Step(Q + jj * k, hQ + jj * k, gneg.data() + j * k, static_cast<int>(k), s);
      Step(bi + jj, hbi + jj, gbneg.data() + j, 1, s);
    }
  }
  return total;
}

// Positives per thread in a round of the threaded schedule: at least 8192, and at
// least 16 per item, so copying and merging the item tables stays a small share (at 4
// per item they took a third of a 2-thread chunk on an ml-1m-sized set).
int64_t BprRound(int64_t num_items) { return std::max<int64_t>(8192, 16 * num_items); }

MXReturnValue BprForward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                         std::vector<MXTensor>* outputs, const OpResource& res) {
  Settings s;
  if (!ReadSettings(attrs, "gluonrec_bpr_update", false, &s)) return MX_FAIL;
  auto& in = *inputs;
  const int64_t n = in[kBUser].size(), m = in[kBNeg].shape[1];
  const int64_t num_users = in[kBP].shape[0], num_items = in[kBQ].shape[0];
  const int64_t k = in[kBP].shape[1];
  if (m < 1) {
    MX_ERROR_MSG << "gluonrec_bpr_update: each positive needs at least one negative";
    return MX_FAIL;
  }
  if (n > INT32_MAX) {
    MX_ERROR_MSG << "gluonrec_bpr_update: a chunk holds at most 2^31 - 1 positives";
    return MX_FAIL;
  }
  if (in[kBBi].size() != num_items ||
      (s.adagrad && (in[kBHP].size() != in[kBP].size() || in[kBHQ].size() != in[kBQ].size() ||
                     in[kBHBi].size() != num_items))) {
    MX_ERROR_MSG << "gluonrec_bpr_update: the item bias and the Adagrad accumulators must "
                    "match the tables";
    return MX_FAIL;
  }
  const BprData d{in[kBUser].data<int32_t>(), in[kBItem].data<int32_t>(),
                  in[kBNeg].data<int32_t>(), in[kBWeight].data<float>(), m, k};
  for (int64_t r = 0; r < n; ++r) {
    bool ok = d.user[r] >= 0 && d.user[r] < num_users && d.item[r] >= 0 &&
              d.item[r] < num_items;
    for (int64_t j = 0; j < m && ok; ++j)
      ok = d.negative[r * m + j] >= 0 && d.negative[r * m + j] < num_items;
    if (!ok) {
      MX_ERROR_MSG << "gluonrec_bpr_update: positive " << r << " has a user or item "
                   << "outside the tables (" << num_users << " x " << num_items << ")";
      return MX_FAIL;
    }
  }
  float *P = in[kBP].data<float>(), *hP = in[kBHP].data<float>();
  const ItemTables shared{in[kBQ].data<float>(), in[kBBi].data<float>(),
                          in[kBHQ].data<float>(), in[kBHBi].data<float>()};
  const int T = s.threads;
  // The chunk's positions grouped by user block, each group in the chunk's order.
  std::vector<int64_t> start;
  std::vector<int32_t> order;
  GroupInOrder(n, T, [&](int64_t r) { return (d.user[r] >> 4) % T; }, &start, &order);
  if (T == 1) {
    (*outputs)[0].data<float>()[0] =
        static_cast<float>(TrainBpr(d, order.data(), 0, n, P, hP, shared, s));
    return MX_SUCCESS;
  }
  // Item tables laid end to end: Q, hQ, bi, hbi (the accumulators only with Adagrad:
  // SGD's are placeholders, never read).
  const int64_t qk = num_items * k;
  float* parts[4] = {shared.Q, shared.hQ, shared.bi, shared.hbi};
  const int64_t sizes[4] = {qk, s.adagrad ? qk : 0, num_items, s.adagrad ? num_items : 0};
  const int64_t at[4] = {0, sizes[0], sizes[0] + sizes[1], sizes[0] + sizes[1] + sizes[2]};
  const int64_t width = at[3] + sizes[3];
  std::vector<float> before(width), copies((T - 1) * width);
  auto item_tables = [&](float* base) {
    return ItemTables{base + at[0], base + at[2], s.adagrad ? base + at[1] : shared.hQ,
                      s.adagrad ? base + at[3] : shared.hbi};
  };
  // The optional attribute 'round' sets R (tests use small rounds); 0 or absent: default.
  const int64_t given = attrs.count("round") ? std::stoll(attrs.at("round")) : 0;
  const int64_t R = given > 0 ? given : BprRound(num_items);
  int64_t rounds = 0;
  for (int t = 0; t < T; ++t) rounds = std::max(rounds, (start[t + 1] - start[t] + R - 1) / R);
  std::vector<double> losses(T, 0.0);
  for (int64_t round = 0; round < rounds; ++round) {
    for (int a = 0; a < 4; ++a) std::copy(parts[a], parts[a] + sizes[a], before.data() + at[a]);
    for (int t = 1; t < T; ++t)
      std::copy(before.begin(), before.end(), copies.begin() + (t - 1) * width);
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; ++t) {
      const int64_t b = std::min(start[t] + round * R, start[t + 1]);
      const int64_t e = std::min(b + R, start[t + 1]);
      const ItemTables mine = t == 0 ? shared : item_tables(copies.data() + (t - 1) * width);
      losses[t] += TrainBpr(d, order.data(), b, e, P, hP, mine, s);
    }
    // The shared tables (thread 0's) plus each other thread's change, in thread order.
    for (int a = 0; a < 4; ++a) {
      float* target = parts[a];
      const int64_t size = sizes[a], from = at[a];
#pragma omp parallel for num_threads(T) schedule(static)
      for (int64_t x = 0; x < size; ++x) {
        float value = target[x];
        for (int t = 1; t < T; ++t)
          value += copies[(t - 1) * width + from + x] - before[from + x];
        target[x] = value;
      }
    }
  }
  double total = 0.0;
  for (int t = 0; t < T; ++t) total += losses[t];
  (*outputs)[0].data<float>()[0] = static_cast<float>(total);
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(gluonrec_mf_update)
    .setParseAttrs(ParseAttrs)
    .setInferType(InferType)
    .setInferShape(InferShape)
    .setMutateInputs(MutateInputs)
    .setForward(Forward, "cpu");

REGISTER_OP(gluonrec_bpr_update)
    .setParseAttrs(BprParseAttrs)
    .setInferType(BprInferType)
    .setInferShape(BprInferShape)
    .setMutateInputs(BprMutateInputs)
    .setForward(BprForward, "cpu");

MXReturnValue initialize(int version) {
  if (version < 10900) {
    MX_ERROR_MSG << "gluonrec_mf_update needs MXNet >= 1.9.0, got " << version;
    return MX_FAIL;
  }
  return MX_SUCCESS;
}
