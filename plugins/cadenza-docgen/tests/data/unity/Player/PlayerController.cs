using System;
using System.Collections;
using UnityEngine;

namespace Cadenza.Samples.Player
{
    /// <summary>Called when the player's health changes.</summary>
    /// <param name="current">Health after the change.</param>
    /// <param name="max">The maximum health.</param>
    public delegate void HealthChanged(int current, int max);

    /// <summary>
    /// Moves the player with a <see cref="CharacterController"/> and tracks its health.
    /// </summary>
    /// <remarks>
    /// Reads input in <c>Update</c> and applies it in <c>FixedUpdate</c>;
    /// see <see cref="Jump(float)"/> for the jump rules.
    /// </remarks>
    [RequireComponent(typeof(CharacterController))]
    [DisallowMultipleComponent]
    public class PlayerController : MonoBehaviour, IDamageable
    {
        #region Inspector

        [Header("Movement")]
        [Tooltip("Walking speed in metres per second.")]
        [SerializeField, Range(0f, 10f)]
        private float moveSpeed = 5f;

        [SerializeField]
        [Range(1, 5)]
        [Tooltip("How many jumps are allowed before touching the ground again.")]
        private int maxJumps = 2;

        /// <summary>Multiplier applied while the sprint button is held.</summary>
        [SerializeField] private float sprintMultiplier = 1.5f;

        [Header("Health")]
        [SerializeField] private int maxHealth = 100;

        [SerializeField] private AudioClip[] hurtSounds;

        #endregion

        // The cached controller; a regular comment, not documentation.
        private CharacterController controller;
        private int jumpsLeft;

        /// <summary>Gravity applied to every player, in m/s².</summary>
        public const float Gravity = -9.81f;

        /// <summary>The default name shown above new players.</summary>
        public static readonly string DefaultName = "Player";

        public string DisplayName;

        /// <summary>Raised when <see cref="Health"/> changes.</summary>
        public event HealthChanged OnHealthChanged;

        /// <summary>Raised when the player dies.</summary>
        public event Action Died;

        /// <summary>Current health, between 0 and <see cref="MaxHealth"/>.</summary>
        public int Health { get; private set; }

        /// <summary>The maximum health.</summary>
        public int MaxHealth => maxHealth;

        /// <summary>
        /// Whether the player is standing on the ground.
        /// </summary>
        public bool IsGrounded
        {
            get { return controller != null && controller.isGrounded; }
        }

        public float Speed { get; set; } = 5f;

        /// <summary>The player's movement states.</summary>
        public enum MoveState
        {
            /// <summary>Not moving.</summary>
            Idle,
            Walking,
            /// <summary>Moving at sprint speed.</summary>
            Running = 4,
            Airborne
        }

        private void Awake()
        {
            controller = GetComponent<CharacterController>();
            Health = maxHealth;
        }

        private void Start()
        {
            jumpsLeft = maxJumps;
        }

        void Update()
        {
            // Input is read here.
            var input = new Vector3(Input.GetAxis("Horizontal"), 0f, Input.GetAxis("Vertical"));
            Move(input * moveSpeed * Time.deltaTime);
        }

        /// <summary>Moves the player by <paramref name="delta"/> this frame.</summary>
        /// <param name="delta">World-space displacement.</param>
        public void Move(Vector3 delta)
        {
            controller.Move(delta);
        }

        /// <summary>
        /// Makes the player jump if a jump is left.
        /// </summary>
        /// <param name="height">Jump height in metres.</param>
        /// <param name="force">Ignore the jump count when <c>true</c>.</param>
        /// <returns><c>true</c> if the player jumped; otherwise <c>false</c>.</returns>
        public bool Jump(float height, bool force = false)
        {
            if (!force && jumpsLeft <= 0)
            {
                return false;
            }
            jumpsLeft--;
            return true;
        }

        /// <inheritdoc/>
        public void TakeDamage(int amount)
        {
            Health = Mathf.Max(0, Health - amount);
            OnHealthChanged?.Invoke(Health, maxHealth);
            if (Health == 0)
            {
                Died?.Invoke();
            }
        }

        public IEnumerator Respawn(float delay, params Transform[] spawnPoints)
        {
            yield return new WaitForSeconds(delay);
        }

        public static PlayerController FindClosest(Vector3 position, float maxDistance = float.PositiveInfinity)
        {
            return null;
        }

#if UNITY_EDITOR
        /// <summary>Draws the ground check in the scene view.</summary>
        private void OnDrawGizmosSelected()
        {
            Gizmos.DrawWireSphere(transform.position, 0.2f);
        }

        [ContextMenu("Kill")]
        public void DebugKill()
        {
            TakeDamage(maxHealth);
        }
#endif
    }

    /// <summary>Something that can take damage.</summary>
    public interface IDamageable
    {
        /// <summary>Applies <paramref name="amount"/> damage.</summary>
        /// <param name="amount">Damage points; negative values heal.</param>
        void TakeDamage(int amount);

        /// <summary>Current health.</summary>
        int Health { get; }
    }
}
