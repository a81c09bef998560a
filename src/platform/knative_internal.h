/* knative_internal.h — names shared by knative.c (import) and
 * knative_export.c (export, traffic): annotation keys and the traffic reader. */
#ifndef GPURUN_PLATFORM_KNATIVE_INTERNAL_H
#define GPURUN_PLATFORM_KNATIVE_INTERNAL_H

#include <yaml.h>

#include "platform/knative.h"

#define KNATIVE_PATH_MAX           256
#define KNATIVE_FLOW_DEPTH_MAX     64
#define KNATIVE_LABEL_LOCATION     "cloud.googleapis.com/location"
#define KNATIVE_ANN_PUBLIC         "run.googleapis.com/invoker-iam-disabled"
#define KNATIVE_AUTOSCALING_PREFIX "autoscaling.knative.dev/"
#define KNATIVE_ANN_MIN_SCALE      "autoscaling.knative.dev/min-scale"
#define KNATIVE_ANN_MAX_SCALE      "autoscaling.knative.dev/max-scale"
/* Cloud Run accepts (and exports) only these spellings; Knative takes both. */
#define KNATIVE_ANN_MIN_SCALE_OLD  "autoscaling.knative.dev/minScale"
#define KNATIVE_ANN_MAX_SCALE_OLD  "autoscaling.knative.dev/maxScale"
#define KNATIVE_ANN_CPU_THROTTLING "run.googleapis.com/cpu-throttling"
#define KNATIVE_ANN_CPU_BOOST      "run.googleapis.com/startup-cpu-boost"
#define KNATIVE_SEL_ACCELERATOR    "run.googleapis.com/accelerator"
#define KNATIVE_RES_GPU            "nvidia.com/gpu"

/* Reads spec.traffic (a sequence) into *out / *n (xmalloc'd). */
int knative__import_traffic(yaml_document_t *doc, const char *path, yaml_node_t *v,
                            struct spec_traffic **out, int64_t *n, struct buf *warn, char *err);

#endif
