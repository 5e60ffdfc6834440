using UnityEngine;

namespace Cadenza.Samples.Items
{
    /// <summary>Which hands a weapon needs.</summary>
    [System.Flags]
    public enum Handedness
    {
        None = 0,
        /// <summary>Held in the left hand.</summary>
        Left = 1 << 0,
        /// <summary>Held in the right hand.</summary>
        Right = 1 << 1,
        Both = Left | Right,
    }

    /// <summary>
    /// Tuning values for one weapon, edited as an asset in the project window.
    /// </summary>
    [CreateAssetMenu(fileName = "NewWeapon", menuName = "Cadenza/Weapon Data", order = 10)]
    public class WeaponData : ScriptableObject
    {
        [Tooltip("Name shown in the HUD.")]
        public string displayName = "Sword";

        [Range(0, 500)]
        [Tooltip("Damage per hit before armour.")]
        public int damage = 25;

        [Min(0.05f)]
        public float cooldown = 0.5f;

        /// <summary>Which hands are needed to hold the weapon.</summary>
        public Handedness hands = Handedness.Right;

        [field: SerializeField]
        [field: Tooltip("Sound played on every swing.")]
        public AudioClip SwingSound { get; private set; }

        [HideInInspector]
        public int timesUsed;

        [System.NonSerialized]
        public float lastUsed;

        [TextArea(2, 5)]
        [SerializeField]
        private string loreText;

        /// <summary>Damage per second, ignoring armour.</summary>
        public float DamagePerSecond => damage / cooldown;

        private void OnValidate()
        {
            cooldown = Mathf.Max(cooldown, 0.05f);
        }
    }

    /// <summary>A weapon scene object that uses a <see cref="WeaponData"/> asset.</summary>
    public class Weapon : PickupBase
    {
        [SerializeField] private WeaponData data;

        /// <summary>Swings the weapon.</summary>
        public virtual void Attack() { }
    }

    /// <summary>Base of every object the player can pick up.</summary>
    public abstract class PickupBase : MonoBehaviour
    {
        /// <summary>Called when the player picks this object up.</summary>
        /// <param name="player">The player who picked it up.</param>
        protected abstract void OnPickedUp(GameObject player);
    }
}
