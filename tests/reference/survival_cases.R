# Named right-censored data cases shared by km.R and followup.R (time, event = 1 / censored = 0).
# Small cases follow scikit-survival's tests/test_nonparametric.py naming; real data come from R's
# survival package; the 6-MP arm of the Freireich et al. (1963) leukaemia trial is the textbook table of
# Klein & Moeschberger (2003), Table 4.1A (data also in Cox & Oakes 1984, Table 1.1).
library(survival)

set.seed(20240501)
sim_t <- round(rexp(300, 1 / 300))
sim_c <- round(runif(300, 0, 900))

survival_cases <- list(
  all_uncensored = list(time = c(2, 3, 5, 7, 11, 13), event = c(1, 1, 1, 1, 1, 1)),
  first_censored = list(time = c(1, 2, 3, 4, 5, 6, 7, 8), event = c(0, 1, 1, 1, 1, 1, 1, 1)),
  last_censored = list(time = c(1, 2, 3, 4, 5, 6), event = c(1, 1, 1, 1, 1, 0)),
  ties_event_censor = list(
    time = c(1, 1, 2, 2, 2, 3, 3, 4, 5, 5),
    event = c(1, 0, 1, 1, 0, 1, 0, 0, 1, 0)
  ),
  event_at_zero = list(time = c(0, 0, 1, 2, 3, 4), event = c(1, 0, 1, 0, 1, 1)),
  all_censored = list(time = c(1, 2, 3, 4), event = c(0, 0, 0, 0)),
  no_events_tied = list(time = c(5, 5, 5), event = c(0, 0, 0)),
  one_patient_event = list(time = 4, event = 1),
  one_patient_censored = list(time = 4, event = 0),
  flat_at_half = list(time = c(1, 2, 3, 4), event = c(1, 1, 0, 1)),
  flat_at_half_end = list(time = c(1, 2, 3, 4), event = c(1, 1, 0, 0)),
  all_die_tied_last = list(time = c(1, 2, 3, 3), event = c(1, 1, 1, 1)),
  aml = list(time = aml$time, event = aml$status),
  aml_maintained = list(
    time = aml$time[aml$x == "Maintained"], event = aml$status[aml$x == "Maintained"]
  ),
  ovarian = list(time = ovarian$futime, event = ovarian$fustat),
  lung = list(time = lung$time, event = lung$status - 1),
  gehan_6mp = list(
    time = c(6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35),
    event = c(1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0)
  ),
  simulated_ties = list(time = pmin(sim_t, sim_c), event = as.numeric(sim_t <= sim_c))
)

case_sources <- list(
  aml = "survival::aml (Miller 1997), both arms",
  aml_maintained = "survival::aml, x == 'Maintained'",
  ovarian = "survival::ovarian (futime, fustat)",
  lung = "survival::lung (time, status - 1), all 228 patients",
  gehan_6mp = paste(
    "6-MP arm of Freireich et al. (1963) Blood 21:699-716;",
    "Klein & Moeschberger (2003) Survival Analysis, 2nd ed., Table 4.1A"
  ),
  simulated_ties = "set.seed(20240501); round(rexp(300, 1/300)) vs round(runif(300, 0, 900))"
)
