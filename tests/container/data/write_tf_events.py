"""Event files as TensorFlow and Keras write them: scalars, histograms, images, a graph."""

import sys

import keras
import numpy as np
import tensorflow as tf

logs = sys.argv[1]
writer = tf.summary.create_file_writer(f"{logs}/tf")
with writer.as_default():
    for step in range(5):
        tf.summary.scalar("tf_loss", 1.0 / (step + 1), step=step)
        tf.summary.histogram("tf_weights", np.random.default_rng(step).normal(size=100), step=step)
    tf.summary.image("tf_images", np.random.default_rng(0).random((2, 8, 8, 1)), step=0)

    @tf.function
    def layer(x):
        return tf.nn.relu(tf.matmul(x, tf.ones((4, 3))))

    tf.summary.trace_on(graph=True)
    layer(tf.ones((2, 4)))
    tf.summary.trace_export("tf_graph", step=0)
writer.close()

# Keras' own callback: epoch_loss scalars under keras/train.
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
model.compile("sgd", "mse")
rng = np.random.default_rng(1)
model.fit(rng.random((16, 4)), rng.random((16, 1)), epochs=2, verbose=0,
          callbacks=[keras.callbacks.TensorBoard(f"{logs}/keras")])  # fmt: skip
print("tf events written")
