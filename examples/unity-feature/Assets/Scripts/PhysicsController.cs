using UnityEngine;

namespace Cadenza.Samples.Movement
{
    /// <summary>
    /// Applies gravity, ground checks and impulses to a <see cref="Rigidbody"/>
    /// so that movement code can ask for velocities instead of forces.
    /// </summary>
    [RequireComponent(typeof(Rigidbody))]
    [DisallowMultipleComponent]
    public class PhysicsController : MonoBehaviour
    {
        [Header("Ground check")]
        [Tooltip("Layers that count as ground.")]
        [SerializeField] private LayerMask groundLayers = ~0;

        [Tooltip("How far below the feet the ground is searched for, in metres.")]
        [SerializeField, Range(0.01f, 1f)] private float groundCheckDistance = 0.15f;

        [Header("Forces")]
        [SerializeField] private float extraGravity = 9.81f;

        [SerializeField] private float maxFallSpeed = 40f;

        private Rigidbody body;

        /// <summary>True while the controller stands on something in <see cref="groundLayers"/>.</summary>
        public bool IsGrounded { get; private set; }

        /// <summary>The body's current velocity, in world space.</summary>
        public Vector3 Velocity => body.velocity;

        /// <summary>Raised on the frame the controller touches the ground after falling.</summary>
        public event System.Action<float> Landed;

        private void Awake()
        {
            body = GetComponent<Rigidbody>();
            body.interpolation = RigidbodyInterpolation.Interpolate;
        }

        private void FixedUpdate()
        {
            bool wasGrounded = IsGrounded;
            IsGrounded = Physics.Raycast(transform.position, Vector3.down, groundCheckDistance, groundLayers);
            if (!wasGrounded && IsGrounded)
            {
                Landed?.Invoke(-body.velocity.y);
            }

            if (!IsGrounded)
            {
                body.AddForce(Vector3.down * extraGravity, ForceMode.Acceleration);
                Vector3 v = body.velocity;
                v.y = Mathf.Max(v.y, -maxFallSpeed);
                body.velocity = v;
            }
        }

        /// <summary>Sets the horizontal velocity, keeping the vertical one.</summary>
        /// <param name="horizontal">The wanted velocity on the XZ plane, in m/s.</param>
        public void Move(Vector3 horizontal)
        {
            body.velocity = new Vector3(horizontal.x, body.velocity.y, horizontal.z);
        }

        /// <summary>Adds an instant upward velocity change if grounded.</summary>
        /// <param name="speed">The take-off speed in m/s.</param>
        /// <returns>Whether the jump happened.</returns>
        public bool Jump(float speed)
        {
            if (!IsGrounded)
            {
                return false;
            }
            body.AddForce(Vector3.up * speed, ForceMode.VelocityChange);
            IsGrounded = false;
            return true;
        }

        public void Stop()
        {
            body.velocity = Vector3.zero;
        }
    }
}
